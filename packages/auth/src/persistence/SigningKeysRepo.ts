import * as Database from "@platform/shared/Database"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

export const StoredKey = Schema.Struct({
  kid: Schema.String,
  private_jwk: Schema.String,
  created_at: Schema.Date,
})
export type StoredKey = typeof StoredKey.Type

type Failure = SqlError.SqlError | Schema.SchemaError

export interface NewKey {
  readonly kid: string
  readonly privateJwk: string
}

/** Every replica serialises key creation on this advisory lock, so the first start makes one key. */
const LOCK = 72_617_001

export class SigningKeysRepo extends Context.Service<
  SigningKeysRepo,
  {
    /** Newest first. */
    readonly all: Effect.Effect<ReadonlyArray<StoredKey>, Failure>
    /** `privateJwk`: the key as stored, sealed by the `KeyVault` or plain. */
    readonly add: (key: NewKey) => Effect.Effect<void, SqlError.SqlError>
    /** Replaces a stored key's text (sealing keys stored before a key-encryption key was set). */
    readonly replace: (key: NewKey) => Effect.Effect<void, SqlError.SqlError>
    /** Stores `make()`'s key unless a key exists already (decided under a lock). */
    readonly ensureOne: <E>(make: Effect.Effect<NewKey, E>) => Effect.Effect<boolean, Failure | E>
  }
>()("auth/SigningKeysRepo") {
  static readonly layer = Layer.effect(
    SigningKeysRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const all = SqlSchema.findAll({
        Request: Schema.Void,
        Result: StoredKey,
        execute: () => sql`SELECT kid, private_jwk, created_at FROM signing_keys ORDER BY created_at DESC, kid`,
      })(undefined)
      const add = (key: NewKey) =>
        sql`INSERT INTO signing_keys ${sql.insert({ kid: key.kid, private_jwk: key.privateJwk })}`.pipe(Effect.asVoid)
      return SigningKeysRepo.of({
        all: all.pipe(Database.query("SigningKeysRepo.all")),
        add: (key) => add(key).pipe(Database.query("SigningKeysRepo.add")),
        replace: (key) =>
          sql`UPDATE signing_keys SET private_jwk = ${key.privateJwk} WHERE kid = ${key.kid}`.pipe(
            Effect.asVoid,
            Database.query("SigningKeysRepo.replace"),
          ),
        ensureOne: (make) =>
          sql
            .withTransaction(
              Effect.gen(function* () {
                yield* sql`SELECT pg_advisory_xact_lock(${LOCK})`
                const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM signing_keys`
                if ((row?.n ?? 0) > 0) return false
                yield* add(yield* make)
                return true
              }),
            )
            .pipe(Database.query("SigningKeysRepo.ensureOne")),
      })
    }),
  )

  /** Keys in memory, newest first: for domain tests. */
  static readonly layerMemory = Layer.sync(SigningKeysRepo, () => {
    const keys: Array<StoredKey> = []
    const add = (key: NewKey) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        keys.unshift({ kid: key.kid, private_jwk: key.privateJwk, created_at: new Date(now) })
      })
    return SigningKeysRepo.of({
      all: Effect.sync(() => [...keys]),
      add,
      replace: (key) =>
        Effect.sync(() => {
          const index = keys.findIndex((stored) => stored.kid === key.kid)
          const found = keys[index]
          if (found !== undefined) keys[index] = { ...found, private_jwk: key.privateJwk }
        }),
      ensureOne: (make) =>
        keys.length > 0 ? Effect.succeed(false) : Effect.flatMap(make, (key) => Effect.as(add(key), true)),
    })
  })
}
