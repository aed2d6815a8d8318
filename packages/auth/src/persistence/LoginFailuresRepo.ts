import * as Database from "@platform/shared/Database"
import { Clock, Context, Duration, Effect, Layer, Schema, Semaphore } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

/** Who is trying: the account and the client address the attempt came from. */
export interface Attempt {
  readonly email: string
  readonly client: string
}

export interface Limits {
  readonly window: Duration.Duration
  /** Failures of one (email, client) pair in the window before that pair is refused. */
  readonly perPair: number
  /** Failures from one client, whatever the emails, before the client is refused. */
  readonly perClient: number
}

/** What taking an attempt answers. */
export type Taken =
  | { readonly _tag: "Refused"; readonly retryAfterSeconds: number }
  | {
      /** Recorded as a failure until `succeeded` says otherwise. */
      readonly _tag: "Taken"
      readonly id: string
      /** Failures of this email from every client in the window, for a progressive slowdown. */
      readonly emailFailures: number
    }

/**
 * Failed logins in `auth_db`, so that every replica counts the same attempts. An attempt is
 * counted before its password is checked, atomically per pair and per client (an advisory lock),
 * so guesses sent at once cannot all slip under the limit: the attempt is recorded as a failure
 * and removed again when the password was right.
 */
export class LoginFailuresRepo extends Context.Service<
  LoginFailuresRepo,
  {
    readonly take: (attempt: Attempt, limits: Limits) => Effect.Effect<Taken, SqlError.SqlError | Schema.SchemaError>
    /** The attempt succeeded: it and the pair's earlier failures are forgotten. */
    readonly succeeded: (id: string, attempt: Attempt) => Effect.Effect<void, SqlError.SqlError>
  }
>()("auth/LoginFailuresRepo") {
  static readonly layer = Layer.effect(
    LoginFailuresRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const counts = SqlSchema.findAll({
        Request: Schema.Struct({ email: Schema.String, client: Schema.String, seconds: Schema.Number }),
        Result: Schema.Struct({
          pair: Schema.Int,
          by_client: Schema.Int,
          by_email: Schema.Int,
          pair_wait: Schema.Number,
          client_wait: Schema.Number,
        }),
        execute: ({ email, client, seconds }) => sql`
          SELECT count(*) FILTER (WHERE email = ${email} AND client = ${client})::int AS pair,
                 count(*) FILTER (WHERE client = ${client})::int AS by_client,
                 count(*) FILTER (WHERE email = ${email})::int AS by_email,
                 coalesce(extract(epoch FROM (min(failed_at) FILTER (WHERE email = ${email} AND client = ${client})
                   + make_interval(secs => ${seconds})) - now()), 0)::float8 AS pair_wait,
                 coalesce(extract(epoch FROM (min(failed_at) FILTER (WHERE client = ${client})
                   + make_interval(secs => ${seconds})) - now()), 0)::float8 AS client_wait
          FROM login_failures
          WHERE (email = ${email} OR client = ${client}) AND failed_at > now() - make_interval(secs => ${seconds})`,
      })
      const take = (attempt: Attempt, limits: Limits) =>
        sql
          .withTransaction(
            Effect.gen(function* () {
              const seconds = Duration.toSeconds(limits.window)
              // Pair first, then client, always: two attempts never wait on each other in a cycle.
              yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`login|${attempt.email}|${attempt.client}`}))`
              yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`login-client|${attempt.client}`}))`
              const [now] = yield* counts({ ...attempt, seconds })
              const pair = now?.pair ?? 0
              const byClient = now?.by_client ?? 0
              if (pair >= limits.perPair || byClient >= limits.perClient) {
                const wait = pair >= limits.perPair ? (now?.pair_wait ?? 0) : (now?.client_wait ?? 0)
                return { _tag: "Refused", retryAfterSeconds: Math.max(1, Math.ceil(wait)) } as const
              }
              // Old failures of this email are dropped as new ones come, so the table stays small.
              yield* sql`DELETE FROM login_failures
                WHERE email = ${attempt.email} AND failed_at <= now() - make_interval(secs => ${seconds})`
              const [row] = yield* sql<{ id: string }>`
                INSERT INTO login_failures ${sql.insert({ email: attempt.email, client: attempt.client })}
                RETURNING id::text`
              return { _tag: "Taken", id: row?.id ?? "", emailFailures: now?.by_email ?? 0 } as const
            }),
          )
          .pipe(Database.query("LoginFailuresRepo.take"))
      return LoginFailuresRepo.of({
        take,
        succeeded: (id, attempt) =>
          sql`DELETE FROM login_failures
              WHERE id = ${id}::bigint OR (email = ${attempt.email} AND client = ${attempt.client})`.pipe(
            Effect.asVoid,
            Database.query("LoginFailuresRepo.succeeded"),
          ),
      })
    }),
  )

  /** Failures in memory, timed by Effect's `Clock`, one attempt at a time: for domain tests. */
  static readonly layerMemory = Layer.effect(
    LoginFailuresRepo,
    Effect.gen(function* () {
      const lock = yield* Semaphore.make(1)
      let rows: Array<{ readonly id: string; readonly email: string; readonly client: string; readonly at: number }> =
        []
      let next = 0
      const take = (attempt: Attempt, limits: Limits) =>
        lock.withPermit(
          Effect.map(Clock.currentTimeMillis, (now): Taken => {
            const length = Duration.toMillis(limits.window)
            rows = rows.filter((row) => row.at > now - length)
            const pair = rows.filter((row) => row.email === attempt.email && row.client === attempt.client)
            const byClient = rows.filter((row) => row.client === attempt.client)
            const refusedBy = pair.length >= limits.perPair ? pair : byClient.length >= limits.perClient ? byClient : []
            const oldest = refusedBy[0]
            if (oldest !== undefined) {
              return { _tag: "Refused", retryAfterSeconds: Math.max(1, Math.ceil((oldest.at + length - now) / 1000)) }
            }
            const id = String(next++)
            const emailFailures = rows.filter((row) => row.email === attempt.email).length
            rows.push({ id, ...attempt, at: now })
            return { _tag: "Taken", id, emailFailures }
          }),
        )
      return LoginFailuresRepo.of({
        take,
        succeeded: (id, attempt) =>
          Effect.sync(() => {
            rows = rows.filter(
              (row) => row.id !== id && !(row.email === attempt.email && row.client === attempt.client),
            )
          }),
      })
    }),
  )
}
