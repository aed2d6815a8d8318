import { randomUUID } from "node:crypto"
import * as Database from "@platform/shared/Database"
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
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

export const RevokedFamily = Schema.Struct({ family_id: Schema.String, revoked_ms: Schema.Number })
export type RevokedFamily = typeof RevokedFamily.Type

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
    /**
     * Marks the token used and stores its successor, in one transaction; false (and nothing
     * stored) when another request used it first: a reuse. Two refreshes at once cannot both
     * win, and the loser's revocation of the family sees the winner's successor.
     */
    readonly rotate: (
      id: string,
      next: {
        readonly user_id: string
        readonly family_id: string
        readonly token_hash: Uint8Array
        readonly ttlSeconds: number
      },
    ) => Effect.Effect<boolean, Failure>
    readonly revokeFamily: (familyId: string) => Effect.Effect<void, SqlError.SqlError>
    /**
     * The families revoked at or after `sinceMs` (epoch milliseconds, the database's clock), each
     * with when: what every replica's `/verify` must refuse the access tokens of.
     */
    readonly revokedSince: (sinceMs: number) => Effect.Effect<ReadonlyArray<RevokedFamily>, Failure>
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
      const insert = ({
        ttlSeconds,
        ...token
      }: {
        readonly user_id: string
        readonly family_id: string
        readonly token_hash: Uint8Array
        readonly ttlSeconds: number
      }) =>
        sql`
          INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
          VALUES (${token.user_id}::uuid, ${token.family_id}::uuid, ${token.token_hash},
                  now() + make_interval(secs => ${ttlSeconds}))`.pipe(Effect.asVoid)
      const revokedSince = SqlSchema.findAll({
        Request: Schema.Number,
        Result: RevokedFamily,
        execute: (sinceMs) => sql`
          SELECT family_id::text, (extract(epoch FROM max(revoked_at)) * 1000)::float8 AS revoked_ms
          FROM refresh_tokens WHERE revoked_at >= to_timestamp(${sinceMs / 1000})
          GROUP BY family_id`,
      })
      return RefreshTokensRepo.of({
        revokedSince: (sinceMs) => revokedSince(sinceMs).pipe(Database.query("RefreshTokensRepo.revokedSince")),
        insert: (token) => insert(token).pipe(Database.query("RefreshTokensRepo.insert")),
        findByHash: (hash) => findByHash(hash).pipe(Database.query("RefreshTokensRepo.findByHash")),
        rotate: (id, next) =>
          sql
            .withTransaction(
              Effect.gen(function* () {
                const used = yield* markUsed(id)
                if (used.length !== 1) return false
                yield* insert(next)
                return true
              }),
            )
            .pipe(Database.query("RefreshTokensRepo.rotate")),
        revokeFamily: (familyId) =>
          sql`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = ${familyId}::uuid AND revoked_at IS NULL`.pipe(
            Effect.asVoid,
            Database.query("RefreshTokensRepo.revokeFamily"),
          ),
      })
    }),
  )

  /** Refresh tokens in memory, timed by Effect's `Clock`: for domain tests. */
  static readonly layerMemory = Layer.sync(RefreshTokensRepo, () => {
    interface Stored {
      readonly id: string
      readonly user_id: string
      readonly family_id: string
      readonly hash: string
      readonly expiresAt: number
      used: boolean
      revoked: boolean
      revokedAt?: number
    }
    const tokens: Array<Stored> = []
    const key = (hash: Uint8Array) => Buffer.from(hash).toString("hex")
    return RefreshTokensRepo.of({
      insert: ({ ttlSeconds, token_hash, ...token }) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          tokens.push({
            ...token,
            id: randomUUID(),
            hash: key(token_hash),
            expiresAt: now + ttlSeconds * 1000,
            used: false,
            revoked: false,
          })
        }),
      findByHash: (hash) =>
        Effect.map(Clock.currentTimeMillis, (now) =>
          Option.map(Option.fromUndefinedOr(tokens.find((token) => token.hash === key(hash))), (token) => ({
            id: token.id,
            user_id: token.user_id,
            family_id: token.family_id,
            expired: token.expiresAt <= now,
            used: token.used,
            revoked: token.revoked,
          })),
        ),
      rotate: (id, { ttlSeconds, token_hash, ...next }) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const token = tokens.find((candidate) => candidate.id === id)
          if (token === undefined || token.used || token.revoked) return false
          token.used = true
          tokens.push({
            ...next,
            id: randomUUID(),
            hash: key(token_hash),
            expiresAt: now + ttlSeconds * 1000,
            used: false,
            revoked: false,
          })
          return true
        }),
      revokeFamily: (familyId) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          for (const token of tokens) {
            if (token.family_id !== familyId || token.revoked) continue
            token.revoked = true
            token.revokedAt = now
          }
        }),
      revokedSince: (sinceMs) =>
        Effect.sync(() => {
          const families = new Map<string, number>()
          for (const token of tokens) {
            if (token.revokedAt === undefined || token.revokedAt < sinceMs) continue
            families.set(token.family_id, Math.max(families.get(token.family_id) ?? 0, token.revokedAt))
          }
          return [...families].map(([family_id, revoked_ms]) => ({ family_id, revoked_ms }))
        }),
    })
  })
}
