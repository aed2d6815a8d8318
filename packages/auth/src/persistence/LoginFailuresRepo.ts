import * as Database from "@platform/shared/Database"
import { Clock, Context, Duration, Effect, Layer, Option, Schema, Semaphore } from "effect"
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

/** What guarding an attempt answers: refused without a check, or the check's verdict. */
export type Guarded<A> =
  | { readonly _tag: "Refused"; readonly retryAfterSeconds: number }
  /** `Some`: the password was right (and what the check found); `None`: a failure, recorded. */
  | { readonly _tag: "Checked"; readonly result: Option.Option<A> }

/**
 * Failed logins in `auth_db`, so that every replica counts the same attempts. The attempts of
 * one (email, client) pair run one at a time under a transaction-scoped advisory lock, on every
 * replica alike: guesses sent at once cannot all slip under the limit, and concurrent right
 * passwords (a script logging in in parallel) just queue instead of being counted as failures.
 */
export class LoginFailuresRepo extends Context.Service<
  LoginFailuresRepo,
  {
    /**
     * Runs `check` (the password comparison) for `attempt` unless the pair or the client is over
     * its limit, one attempt of a pair at a time: concurrent guesses queue and each sees the
     * failures before it, so none slips under the limit. `check` learns how many times the email
     * failed from every client (for the slowdown); a `None` is recorded as a failure, a `Some`
     * forgets the pair's failures.
     */
    readonly guard: <A, E, R>(
      attempt: Attempt,
      limits: Limits,
      check: (emailFailures: number) => Effect.Effect<Option.Option<A>, E, R>,
    ) => Effect.Effect<Guarded<A>, E | SqlError.SqlError | Schema.SchemaError, R>
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
      const guard = <A, E, R>(
        attempt: Attempt,
        limits: Limits,
        check: (emailFailures: number) => Effect.Effect<Option.Option<A>, E, R>,
      ) =>
        sql
          .withTransaction(
            Effect.gen(function* () {
              const seconds = Duration.toSeconds(limits.window)
              yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`login|${attempt.email}|${attempt.client}`}))`
              const [now] = yield* counts({ ...attempt, seconds })
              const pair = now?.pair ?? 0
              const byClient = now?.by_client ?? 0
              if (pair >= limits.perPair || byClient >= limits.perClient) {
                const wait = pair >= limits.perPair ? (now?.pair_wait ?? 0) : (now?.client_wait ?? 0)
                return { _tag: "Refused", retryAfterSeconds: Math.max(1, Math.ceil(wait)) } as const
              }
              const result = yield* check(now?.by_email ?? 0)
              if (Option.isSome(result)) {
                yield* sql`DELETE FROM login_failures WHERE email = ${attempt.email} AND client = ${attempt.client}`
              } else {
                // Old failures of this email are dropped as new ones come, so the table stays small.
                yield* sql`DELETE FROM login_failures
                  WHERE email = ${attempt.email} AND failed_at <= now() - make_interval(secs => ${seconds})`
                yield* sql`INSERT INTO login_failures ${sql.insert({ email: attempt.email, client: attempt.client })}`
              }
              return { _tag: "Checked", result } as const
            }),
          )
          .pipe(Database.query("LoginFailuresRepo.guard"))
      return LoginFailuresRepo.of({ guard })
    }),
  )

  /** Failures in memory, timed by Effect's `Clock`, one attempt of a pair at a time: for domain tests. */
  static readonly layerMemory = Layer.effect(
    LoginFailuresRepo,
    Effect.gen(function* () {
      const lock = yield* Semaphore.make(1)
      let rows: Array<{ readonly email: string; readonly client: string; readonly at: number }> = []
      const guard = <A, E, R>(
        attempt: Attempt,
        limits: Limits,
        check: (emailFailures: number) => Effect.Effect<Option.Option<A>, E, R>,
      ): Effect.Effect<Guarded<A>, E, R> =>
        lock.withPermit(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const length = Duration.toMillis(limits.window)
            rows = rows.filter((row) => row.at > now - length)
            const pair = rows.filter((row) => row.email === attempt.email && row.client === attempt.client)
            const byClient = rows.filter((row) => row.client === attempt.client)
            const refusedBy = pair.length >= limits.perPair ? pair : byClient.length >= limits.perClient ? byClient : []
            const oldest = refusedBy[0]
            if (oldest !== undefined) {
              return { _tag: "Refused", retryAfterSeconds: Math.max(1, Math.ceil((oldest.at + length - now) / 1000)) }
            }
            const result = yield* check(rows.filter((row) => row.email === attempt.email).length)
            if (Option.isSome(result))
              rows = rows.filter((row) => !(row.email === attempt.email && row.client === attempt.client))
            else rows.push({ ...attempt, at: yield* Clock.currentTimeMillis })
            return { _tag: "Checked", result }
          }),
        )
      return LoginFailuresRepo.of({ guard })
    }),
  )
}
