import * as Database from "@platform/shared/Database"
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

/** What the failures of one email within the window say: how many, and when the oldest was. */
export interface FailureWindow {
  readonly count: number
  /** Seconds until the oldest failure in the window leaves it (0 when there is none). */
  readonly secondsUntilOldestExpires: number
}

export class LoginFailuresRepo extends Context.Service<
  LoginFailuresRepo,
  {
    readonly window: (
      email: string,
      window: Duration.Duration,
    ) => Effect.Effect<FailureWindow, SqlError.SqlError | Schema.SchemaError>
    readonly record: (email: string, window: Duration.Duration) => Effect.Effect<void, SqlError.SqlError>
    readonly clear: (email: string) => Effect.Effect<void, SqlError.SqlError>
  }
>()("auth/LoginFailuresRepo") {
  static readonly layer = Layer.effect(
    LoginFailuresRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const window = SqlSchema.findAll({
        Request: Schema.Struct({ email: Schema.String, seconds: Schema.Number }),
        Result: Schema.Struct({ count: Schema.Int, wait: Schema.Number }),
        execute: ({ email, seconds }) => sql`
          SELECT count(*)::int AS count,
                 coalesce(extract(epoch FROM (min(failed_at) + make_interval(secs => ${seconds})) - now()), 0)::float8 AS wait
          FROM login_failures
          WHERE email = ${email} AND failed_at > now() - make_interval(secs => ${seconds})`,
      })
      return LoginFailuresRepo.of({
        window: (email, length) =>
          window({ email, seconds: Duration.toSeconds(length) }).pipe(
            // An aggregate: always exactly one row.
            Effect.map(([row]) => ({
              count: row?.count ?? 0,
              secondsUntilOldestExpires: Math.max(0, Math.ceil(row?.wait ?? 0)),
            })),
            Database.query("LoginFailuresRepo.window"),
          ),
        // Old failures of this email are dropped as new ones come, so the table stays small.
        record: (email, length) =>
          sql
            .withTransaction(
              Effect.all([
                sql`DELETE FROM login_failures
                    WHERE email = ${email} AND failed_at <= now() - make_interval(secs => ${Duration.toSeconds(length)})`,
                sql`INSERT INTO login_failures ${sql.insert({ email })}`,
              ]),
            )
            .pipe(Effect.asVoid, Database.query("LoginFailuresRepo.record")),
        clear: (email) =>
          sql`DELETE FROM login_failures WHERE email = ${email}`.pipe(
            Effect.asVoid,
            Database.query("LoginFailuresRepo.clear"),
          ),
      })
    }),
  )

  /** Failures in memory, timed by Effect's `Clock`: for domain tests. */
  static readonly layerMemory = Layer.sync(LoginFailuresRepo, () => {
    const failures = new Map<string, Array<number>>()
    const recent = (email: string, length: Duration.Duration, now: number) =>
      (failures.get(email) ?? []).filter((at) => at > now - Duration.toMillis(length))
    return LoginFailuresRepo.of({
      window: (email, length) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const inWindow = recent(email, length, now)
          const oldest = inWindow[0]
          return {
            count: inWindow.length,
            secondsUntilOldestExpires:
              oldest === undefined ? 0 : Math.max(0, Math.ceil((oldest + Duration.toMillis(length) - now) / 1000)),
          }
        }),
      record: (email, length) =>
        Effect.map(Clock.currentTimeMillis, (now) => void failures.set(email, [...recent(email, length, now), now])),
      clear: (email) => Effect.sync(() => void failures.delete(email)),
    })
  })
}
