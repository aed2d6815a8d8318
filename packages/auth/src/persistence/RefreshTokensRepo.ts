import * as Database from "@platform/shared/Database"
import { Context, Effect, Layer, type Option, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

export const RefreshTokenRow = Schema.Struct({
  id: Schema.String,
  user_id: Schema.String,
  family_id: Schema.String,
  expired: Schema.Boolean,
  used: Schema.Boolean,
  revoked: Schema.Boolean,
})
export type RefreshTokenRow = typeof RefreshTokenRow.Type

type Failure = SqlError.SqlError | Schema.SchemaError

export class RefreshTokensRepo extends Context.Service<
  RefreshTokensRepo,
  {
    readonly insert: (token: {
      readonly user_id: string
      readonly family_id: string
      readonly token_hash: Uint8Array
      readonly ttlSeconds: number
    }) => Effect.Effect<void, SqlError.SqlError>
    readonly findByHash: (hash: Uint8Array) => Effect.Effect<Option.Option<RefreshTokenRow>, Failure>
    /** Marks the token used; false when another request used it first (a reuse). */
    readonly markUsed: (id: string) => Effect.Effect<boolean, Failure>
    readonly revokeFamily: (familyId: string) => Effect.Effect<void, SqlError.SqlError>
  }
>()("auth/RefreshTokensRepo") {
  static readonly layer = Layer.effect(
    RefreshTokensRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const findByHash = SqlSchema.findOneOption({
        Request: Schema.Uint8Array,
        Result: RefreshTokenRow,
        execute: (hash) => sql`
          SELECT id::text, user_id::text, family_id::text,
                 expires_at <= now() AS expired, used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked
          FROM refresh_tokens WHERE token_hash = ${hash}`,
      })
      const markUsed = SqlSchema.findAll({
        Request: Schema.String,
        Result: Schema.Struct({ id: Schema.String }),
        execute: (id) => sql`
          UPDATE refresh_tokens SET used_at = now()
          WHERE id = ${id}::uuid AND used_at IS NULL AND revoked_at IS NULL
          RETURNING id::text`,
      })
      return RefreshTokensRepo.of({
        insert: ({ ttlSeconds, ...token }) =>
          sql`
            INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
            VALUES (${token.user_id}::uuid, ${token.family_id}::uuid, ${token.token_hash},
                    now() + make_interval(secs => ${ttlSeconds}))`.pipe(
            Effect.asVoid,
            Database.query("RefreshTokensRepo.insert"),
          ),
        findByHash: (hash) => findByHash(hash).pipe(Database.query("RefreshTokensRepo.findByHash")),
        markUsed: (id) =>
          markUsed(id).pipe(
            Effect.map((rows) => rows.length === 1),
            Database.query("RefreshTokensRepo.markUsed"),
          ),
        revokeFamily: (familyId) =>
          sql`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = ${familyId}::uuid AND revoked_at IS NULL`.pipe(
            Effect.asVoid,
            Database.query("RefreshTokensRepo.revokeFamily"),
          ),
      })
    }),
  )
}
