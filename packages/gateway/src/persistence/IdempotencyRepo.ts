import * as Database from "@platform/shared/Database"
import { Clock, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

/** A key's record: the call it belongs to, and its outcome once done (`code`: gRPC's number). */
export const StoredOutcome = Schema.Struct({
  name: Schema.String,
  done: Schema.Boolean,
  success: Schema.NullOr(Schema.Boolean),
  code: Schema.NullOr(Schema.Int),
  message: Schema.NullOr(Schema.String),
})
export type StoredOutcome = typeof StoredOutcome.Type

type Failure = SqlError.SqlError | Schema.SchemaError

export class IdempotencyRepo extends Context.Service<
  IdempotencyRepo,
  {
    /** The key's record, unless it is older than `ttl` (an expired record is removed). */
    readonly find: (key: string, ttl: Duration.Duration) => Effect.Effect<Option.Option<StoredOutcome>, Failure>
    /** Claims the key for this call; false when another call holds it already. */
    readonly reserve: (key: string, name: string) => Effect.Effect<boolean, Failure>
    readonly complete: (
      key: string,
      outcome: { readonly success: boolean; readonly code: number | null; readonly message: string },
    ) => Effect.Effect<void, SqlError.SqlError>
    /** Gives the key up (the call was cancelled before it had an outcome). */
    readonly release: (key: string) => Effect.Effect<void, SqlError.SqlError>
    /** Removes every record older than `ttl` (keys never presented again would stay for good). */
    readonly purge: (ttl: Duration.Duration) => Effect.Effect<void, SqlError.SqlError>
  }
>()("gateway/IdempotencyRepo") {
  static readonly layer = Layer.effect(
    IdempotencyRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const find = SqlSchema.findOneOption({
        Request: Schema.Struct({ key: Schema.String, seconds: Schema.Number }),
        Result: StoredOutcome,
        execute: ({ key, seconds }) => sql`
          SELECT name, done, success, code, message FROM idempotency_keys
          WHERE key = ${key} AND created_at > now() - make_interval(secs => ${seconds})`,
      })
      const reserve = SqlSchema.findAll({
        Request: Schema.Struct({ key: Schema.String, name: Schema.String }),
        Result: Schema.Struct({ key: Schema.String }),
        execute: (row) =>
          sql`INSERT INTO idempotency_keys ${sql.insert(row)} ON CONFLICT (key) DO NOTHING RETURNING key`,
      })
      return IdempotencyRepo.of({
        find: (key, ttl) =>
          Effect.gen(function* () {
            const seconds = Duration.toSeconds(ttl)
            yield* sql`DELETE FROM idempotency_keys
                       WHERE key = ${key} AND created_at <= now() - make_interval(secs => ${seconds})`
            return yield* find({ key, seconds })
          }).pipe(Database.query("IdempotencyRepo.find")),
        reserve: (key, name) =>
          reserve({ key, name }).pipe(
            Effect.map((rows) => rows.length === 1),
            Database.query("IdempotencyRepo.reserve"),
          ),
        complete: (key, outcome) =>
          sql`UPDATE idempotency_keys
              SET done = true, success = ${outcome.success}, code = ${outcome.code}, message = ${outcome.message}
              WHERE key = ${key}`.pipe(Effect.asVoid, Database.query("IdempotencyRepo.complete")),
        release: (key) =>
          sql`DELETE FROM idempotency_keys WHERE key = ${key} AND NOT done`.pipe(
            Effect.asVoid,
            Database.query("IdempotencyRepo.release"),
          ),
        purge: (ttl) =>
          sql`DELETE FROM idempotency_keys
              WHERE created_at <= now() - make_interval(secs => ${Duration.toSeconds(ttl)})`.pipe(
            Effect.asVoid,
            Database.query("IdempotencyRepo.purge"),
          ),
      })
    }),
  )

  /** Keys in memory, with the same expiry (from Effect's `Clock`): for tests. */
  static readonly layerMemory = Layer.sync(IdempotencyRepo, () => {
    const records = new Map<string, StoredOutcome & { readonly createdAt: number }>()
    const live = (key: string, ttl: Duration.Duration) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const record = records.get(key)
        if (record !== undefined && record.createdAt <= now - Duration.toMillis(ttl)) records.delete(key)
        return Option.fromUndefinedOr(records.get(key))
      })
    return IdempotencyRepo.of({
      find: (key, ttl) =>
        Effect.map(
          live(key, ttl),
          Option.map(({ createdAt: _, ...outcome }) => outcome),
        ),
      reserve: (key, name) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (records.has(key)) return false
          records.set(key, { name, done: false, success: null, code: null, message: null, createdAt: now })
          return true
        }),
      complete: (key, outcome) =>
        Effect.sync(() => {
          const record = records.get(key)
          if (record !== undefined) records.set(key, { ...record, ...outcome, done: true })
        }),
      release: (key) =>
        Effect.sync(() => {
          if (records.get(key)?.done === false) records.delete(key)
        }),
      purge: (ttl) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          for (const [key, record] of records) if (record.createdAt <= now - Duration.toMillis(ttl)) records.delete(key)
        }),
    })
  })

  /** Without a database there is nowhere to remember keys: every call runs. */
  static readonly disabled = Layer.succeed(IdempotencyRepo, {
    find: () => Effect.succeedNone,
    reserve: () => Effect.succeed(true),
    complete: () => Effect.void,
    release: () => Effect.void,
    purge: () => Effect.void,
  })
}
