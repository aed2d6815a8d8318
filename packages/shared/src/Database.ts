import { PgClient } from "@effect/sql-pg"
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  Latch,
  Layer,
  Metric,
  Option,
  Redacted,
  Ref,
  Schedule,
  Schema,
} from "effect"
import { Reactivity } from "effect/reactivity"
import { Migrator, SqlClient, type SqlError } from "effect/sql"
import { describe } from "./ErrorMessage.ts"
import { durationBoundaries, labelled, secondsBetween } from "./Metrics.ts"
import { redactUrl, ServiceConfig } from "./ServiceConfig.ts"

/**
 * A service's migrations, keyed `<id>_<name>` (`"0001_create_executions"`), applied in id order
 * by Effect's SQL migrator. Each runs once per database; a second start changes nothing.
 */
export type Migrations = Record<string, Effect.Effect<unknown, unknown, SqlClient.SqlClient>>

export class DatabaseUnavailable extends Schema.TaggedError<DatabaseUnavailable>()("DatabaseUnavailable", {
  message: Schema.String,
}) {}

/** Whether the service's database answers, for `/healthz`. */
export class DatabaseHealth extends Context.Service<
  DatabaseHealth,
  {
    /** False when the service runs without `DATABASE_URL`. */
    readonly enabled: boolean
    /** Fails until the database has been reached and migrated, and whenever `SELECT 1` does not answer. */
    readonly check: Effect.Effect<void, DatabaseUnavailable>
    /** Waits until the database has been reached and migrated (at once when it was at start-up). */
    readonly ready: Effect.Effect<void>
    /** Whether it has been, without waiting. */
    readonly isReady: Effect.Effect<boolean>
  }
>()("platform/DatabaseHealth") {
  static readonly disabled = Layer.succeed(DatabaseHealth, {
    enabled: false,
    check: Effect.void,
    ready: Effect.void,
    isReady: Effect.succeed(true),
  })
}

/**
 * The pool as Prometheus sees it. @effect/sql-pg exposes neither its pool nor a hook around a
 * statement, so the kernel measures what the services do through it: each repository
 * operation (`query`) is timed by name and outcome, the operations running now are counted,
 * and the pool's size is published beside them (in flight near max: the pool is saturated).
 */
export const operationDuration = Metric.histogram("db_client_operation_duration_seconds", {
  description: "Time a repository operation took against PostgreSQL, by operation and outcome",
  boundaries: durationBoundaries,
})

const operationSeries = labelled(operationDuration)

export const operationsInFlight = Metric.gauge("db_client_operations_in_flight", {
  description: "Repository operations running against PostgreSQL now",
})

export const connectionsMax = Metric.gauge("db_client_connections_max", {
  description: "The most connections the pool opens (DATABASE_POOL_SIZE)",
})

/**
 * One repository operation (`"GreetingsRepo.insert"`): a span of that name around its
 * statements, and its duration and outcome in `db_client_operation_duration_seconds`.
 */
export const query =
  (name: string, attributes?: Record<string, unknown>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeNanos, (start) =>
      Metric.modify(operationsInFlight, 1).pipe(
        Effect.andThen(effect),
        Effect.onExit((exit) =>
          Effect.flatMap(Clock.currentTimeNanos, (end) =>
            Effect.andThen(
              Metric.modify(operationsInFlight, -1),
              Metric.update(
                Exit.isSuccess(exit)
                  ? operationSeries(`${name} ok`, () => ({ operation: name, outcome: "ok" }))
                  : operationSeries(`${name} error`, () => ({ operation: name, outcome: "error" })),
                secondsBetween(start, end),
              ),
            ),
          ),
        ),
        Effect.withSpan(name, attributes === undefined ? {} : { attributes }, { captureStackTrace: false }),
      ),
    )

const MIGRATIONS_TABLE = "effect_sql_migrations"
const HEALTH_TIMEOUT = Duration.seconds(2)

/** The PostgreSQL error code (SQLSTATE) or socket error code behind a failure, if any. */
export const errorCode = (error: SqlError.SqlError): string | undefined => {
  const cause: unknown = error.reason.cause
  return typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
}

const transientCodes = new Set([
  // admin shutdown, crash shutdown, starting up / shutting down / in recovery
  "57P01",
  "57P02",
  "57P03",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
])

/**
 * The server is not answering (not up yet, restarting, unreachable): worth waiting out, unlike a
 * statement the server refused (a constraint, a syntax error, bad credentials).
 */
export const isTransient = (error: SqlError.SqlError) => {
  const code = errorCode(error)
  return (
    error.reason._tag === "ConnectionError" ||
    (code !== undefined && (transientCodes.has(code) || code.startsWith("08")))
  )
}

const isMissingDatabase = (error: SqlError.SqlError) => errorCode(error) === "3D000"

const databaseName = (url: URL) => decodeURIComponent(url.pathname.slice(1))

/** `url` naming the database `name` on the same server (credentials, host and port kept). */
export const withDatabase = (url: URL, name: string) => {
  const copy = new URL(url.href)
  copy.pathname = `/${encodeURIComponent(name)}`
  return copy
}

/**
 * Creates the database `target` names, through the server's maintenance database (`postgres`,
 * or `template1` where there is none); a database that exists already is left as it is. Two
 * replicas starting together may race; the loser sees `duplicate_database` and carries on.
 * Also what the test kit and the platform runner create their databases with.
 */
export const createDatabase = (target: URL, applicationName = "platform") =>
  Effect.gen(function* () {
    const name = databaseName(target)
    const attempt = (maintenance: string) =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = withDatabase(target, maintenance)
          const sql = yield* PgClient.make({ url: Redacted.make(url.href), maxConnections: 1, applicationName })
          const [found] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${name}`
          if ((found?.n ?? 0) > 0) return false
          return yield* sql`CREATE DATABASE ${sql(name)}`.pipe(
            Effect.as(true),
            // duplicate_database, or the catalog's unique index when both CREATEs ran at once
            Effect.catchIf(
              (error) => errorCode(error) === "42P04" || errorCode(error) === "23505",
              () => Effect.succeed(false),
            ),
          )
        }),
      )
    const created = yield* attempt("postgres").pipe(Effect.catchIf(isMissingDatabase, () => attempt("template1")))
    if (created) yield* Effect.logInfo(`created database ${name}`)
    return created
  }).pipe(Effect.provide(Reactivity.layer))

/** Drops the database `target` names, closing its connections first (PostgreSQL 13+). */
export const dropDatabase = (target: URL, applicationName = "platform") =>
  Effect.scoped(
    Effect.gen(function* () {
      const url = withDatabase(target, "postgres")
      const sql = yield* PgClient.make({ url: Redacted.make(url.href), maxConnections: 1, applicationName })
      yield* sql`DROP DATABASE IF EXISTS ${sql(databaseName(target))} WITH (FORCE)`
    }),
  ).pipe(Effect.provide(Reactivity.layer))

const runMigrations = (migrations: Migrations) =>
  Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: MIGRATIONS_TABLE }).pipe(
    Effect.tap((applied) =>
      applied.length === 0
        ? Effect.logInfo("database schema is up to date")
        : Effect.logInfo(`applied migrations: ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}`),
    ),
  )

/** How long a background attempt waits before the next, at most, while the database is away. */
const RECONNECT_CAP = Duration.seconds(5)
/** How often a service that has its database checks that it still answers. */
const HEARTBEAT = Duration.seconds(2)

/** What the pool connects with: the URL, and its parts named so spans carry the real ones. */
export const connectionOf = (url: URL) => ({
  url: Redacted.make(url.href),
  // PgClient names the database, host and port in its spans from these, not from the URL.
  database: databaseName(url),
  ...(url.hostname === "" ? {} : { host: url.hostname.replace(/^\[(.*)\]$/, "$1") }),
  port: url.port === "" ? 5432 : Number(url.port),
})

/**
 * The service's PostgreSQL pool from `DATABASE_URL`, with its migrations applied.
 *
 * The pool connects lazily, so a service starts whether or not its database answers, as the
 * original services do. When it answers at start-up, the database is created if it does not
 * exist and migrated before the service serves; a migration that fails stops start-up. When it
 * does not answer, the service serves anyway (`/healthz` and `/readyz` answer `503`), says so in
 * one line, and brings the database up in the background (capped backoff), saying so in one
 * line when it has. Once up, a heartbeat notices an outage and the return, one line each.
 * The pool closes with the layer, after the HTTP server has drained.
 */
export const layer = (migrations: Migrations) =>
  Layer.effectContext(
    Effect.gen(function* () {
      const config = yield* ServiceConfig
      if (Option.isNone(config.databaseUrl)) {
        return yield* new DatabaseUnavailable({ message: "DATABASE_URL is not set, and this needs the database" })
      }
      const target = Redacted.value(config.databaseUrl.value)
      const shown = redactUrl(target)
      const settings = {
        ...connectionOf(target),
        applicationName: config.serviceName,
        connectTimeout: config.databaseConnectTimeout,
        // A connection whose server vanished without closing it is found out, not waited on.
        keepAlive: Duration.seconds(30),
      }
      const client = yield* PgClient.make({
        ...settings,
        maxConnections: config.databasePoolSize,
        // A statement the server runs longer than this is cancelled by the server itself.
        startupParameters: { statement_timeout: String(Duration.toMillis(config.databaseStatementTimeout)) },
      }).pipe(Effect.mapError((error) => new DatabaseUnavailable({ message: describe(error) })))
      yield* Metric.update(connectionsMax, config.databasePoolSize)

      // One short-lived connection proves the server is up and the database exists (the
      // pool would only say so at its first statement).
      const probe = Effect.scoped(
        Effect.flatMap(PgClient.make({ ...settings, maxConnections: 1 }), (sql) => sql`SELECT 1`),
      )
      const bringUp = probe.pipe(
        Effect.catchIf(isMissingDatabase, () => createDatabase(target, config.serviceName).pipe(Effect.andThen(probe))),
        Effect.mapError((error) => ({
          transient: isTransient(error),
          message: isTransient(error)
            ? `waiting for the database at ${shown}: ${describe(error)}`
            : `cannot use the database at ${shown}: ${describe(error)}`,
        })),
        Effect.andThen(
          // On a connection of their own, without the pool's statement timeout: an index on a
          // large table may take longer than any request should.
          Effect.scoped(
            Effect.flatMap(PgClient.make({ ...settings, maxConnections: 1 }), (migrator) =>
              runMigrations(migrations).pipe(Effect.provideService(SqlClient.SqlClient, migrator)),
            ),
          ).pipe(
            Effect.mapError((error) => ({
              // The migrator's own errors (a failed migration) are not; a dropped connection is.
              transient: error._tag === "SqlError" && isTransient(error),
              message: `migrating ${shown} failed: ${describe(error)}`,
            })),
          ),
        ),
      )

      const migrated = yield* Latch.make(false)
      /** Whether the last statement the kernel sent (heartbeat or health check) got an answer. */
      const answering = yield* Ref.make(false)
      const observe = (exit: Exit.Exit<unknown, SqlError.SqlError | Cause.TimeoutError>) =>
        Effect.flatMap(Ref.getAndSet(answering, Exit.isSuccess(exit)), (before) =>
          before === Exit.isSuccess(exit)
            ? Effect.void
            : Exit.isSuccess(exit)
              ? Effect.logInfo(`the database at ${shown} answers again`)
              : Effect.logWarning(
                  `lost the database at ${shown}: ${describe(Cause.squash(exit.cause))}; answering without it until it is back`,
                ),
        )
      const ping = client`SELECT 1`.pipe(boundedForCaller(HEALTH_TIMEOUT), Effect.exit, Effect.tap(observe))
      const connected = Effect.gen(function* () {
        yield* Effect.logInfo(`connected to ${shown}`)
        yield* Ref.set(answering, true)
        yield* Latch.open(migrated)
        yield* ping.pipe(Effect.delay(HEARTBEAT), Effect.forever, Effect.forkScoped)
      })

      const first = yield* Effect.exit(bringUp)
      if (Exit.isSuccess(first)) {
        yield* connected
      } else {
        const error = Cause.squash(first.cause) as { transient: boolean; message: string }
        // Anything but "not answering" (bad credentials, a broken migration) is a mistake to fix, not wait out.
        if (!error.transient) return yield* new DatabaseUnavailable({ message: error.message })
        yield* Effect.logWarning(`${error.message}; serving without it (/healthz answers 503) until it answers`)
        const backoff = Schedule.min([Schedule.exponential("100 millis"), Schedule.spaced(RECONNECT_CAP)])
        yield* bringUp.pipe(
          Effect.tapError((error) => (error.transient ? Effect.void : Effect.logError(error.message))),
          Effect.retry(backoff),
          Effect.andThen(connected),
          Effect.forkScoped,
        )
      }

      const health = DatabaseHealth.of({
        enabled: true,
        ready: Latch.await(migrated),
        isReady: Effect.sync(() => Latch.isOpen(migrated)),
        check: Effect.gen(function* () {
          if (!Latch.isOpen(migrated)) {
            return yield* new DatabaseUnavailable({ message: `the database at ${shown} has not answered yet` })
          }
          const exit = yield* ping
          if (Exit.isFailure(exit)) {
            return yield* new DatabaseUnavailable({ message: describe(Cause.squash(exit.cause)) })
          }
        }),
      })
      return Context.make(PgClient.PgClient, client).pipe(
        Context.add(SqlClient.SqlClient, client),
        Context.add(DatabaseHealth, health),
      )
    }),
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * `effect`, failing with a `TimeoutError` after `duration` for its caller, while its own
 * interruption finishes in the background. Interrupting a statement on a frozen server is not
 * quick: the driver sends a cancel on a side connection and drains the statement, up to 5 s
 * each before it gives the connection up, and `Effect.timeout` would wait for all of it
 * (a 2 s health check answered in 7 s).
 */
const boundedForCaller =
  (duration: Duration.Duration) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Cause.TimeoutError, R> =>
    Effect.flatMap(Effect.forkDetach(effect), (fiber) =>
      Fiber.join(fiber).pipe(
        Effect.timeout(duration),
        Effect.onExit((exit) =>
          Exit.isSuccess(exit) ? Effect.void : Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber))),
        ),
      ),
    )

/**
 * Persistence when `DATABASE_URL` is set, and the service's own "disabled" behaviour when it
 * is not (the contract lets every service run without a database). `enabled` is built on the
 * pool; `disabled` must provide the same services without one. Says which in one line.
 */
export const layerOptional = <A, E, R, E2, R2>(options: {
  readonly migrations: Migrations
  readonly enabled: Layer.Layer<A, E, R>
  readonly disabled: Layer.Layer<A, E2, R2>
}) => {
  type Persistence = Layer.Layer<
    A | DatabaseHealth,
    E | E2 | DatabaseUnavailable,
    Exclude<R, SqlClient.SqlClient | PgClient.PgClient | DatabaseHealth> | R2 | ServiceConfig
  >
  return Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* ServiceConfig
      if (Option.isSome(config.databaseUrl)) {
        const persistent: Persistence = Layer.provideMerge(options.enabled, layer(options.migrations))
        return persistent
      }
      yield* Effect.logWarning("DATABASE_URL is not set: persistence is disabled, nothing will be stored")
      const disabled: Persistence = Layer.merge(options.disabled, DatabaseHealth.disabled)
      return disabled
    }),
  )
}
