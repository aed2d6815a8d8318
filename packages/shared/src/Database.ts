import { PgClient } from "@effect/sql-pg"
import { Clock, Context, Duration, Effect, Exit, Layer, Metric, Option, Redacted, Schedule, Schema } from "effect"
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
    readonly check: Effect.Effect<void, DatabaseUnavailable>
  }
>()("platform/DatabaseHealth") {
  static readonly disabled = Layer.succeed(DatabaseHealth, { enabled: false, check: Effect.void })
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

/** The server is not (yet) accepting connections: worth waiting for at start-up. */
const isNotReady = (error: SqlError.SqlError) =>
  error.reason._tag === "ConnectionError" ||
  // the database system is starting up / shutting down / in recovery
  errorCode(error) === "57P03" ||
  errorCode(error) === "ENOTFOUND" ||
  errorCode(error) === "EAI_AGAIN"

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

/**
 * The service's PostgreSQL pool from `DATABASE_URL`. At start-up it waits for the server
 * (bounded exponential backoff, `DATABASE_CONNECT_TIMEOUT_MS`), creates the database when it
 * does not exist yet, then applies the service's migrations. The pool closes with the layer,
 * after the HTTP server has drained.
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
      const applicationName = config.serviceName
      // One short-lived connection proves the server is up and the database exists before
      // the pool is opened (the pool itself connects lazily).
      const probe = Effect.scoped(
        Effect.flatMap(
          PgClient.make({ url: Redacted.make(target.href), maxConnections: 1, applicationName }),
          (sql) => sql`SELECT 1`,
        ),
      )
      const backoff = Schedule.min([Schedule.exponential("100 millis"), Schedule.spaced("2 seconds")]).pipe(
        Schedule.upTo({ duration: config.databaseConnectTimeout }),
      )
      yield* probe.pipe(
        Effect.catchIf(isMissingDatabase, () => createDatabase(target, applicationName).pipe(Effect.andThen(probe))),
        Effect.retry({
          schedule: backoff,
          while: (error) =>
            isNotReady(error)
              ? Effect.as(Effect.logWarning(`waiting for the database at ${shown}: ${describe(error)}`), true)
              : Effect.succeed(false),
        }),
        Effect.mapError(
          (error) =>
            new DatabaseUnavailable({
              message: isNotReady(error)
                ? `cannot reach the database at ${shown} after ${Duration.format(config.databaseConnectTimeout)}: ${describe(error)}`
                : `cannot use the database at ${shown}: ${describe(error)}`,
            }),
        ),
      )
      const client = yield* PgClient.make({
        url: Redacted.make(target.href),
        maxConnections: config.databasePoolSize,
        applicationName,
      }).pipe(Effect.mapError((error) => new DatabaseUnavailable({ message: describe(error) })))
      yield* runMigrations(migrations).pipe(
        Effect.provideService(SqlClient.SqlClient, client),
        Effect.mapError(
          (error) => new DatabaseUnavailable({ message: `migrating ${shown} failed: ${describe(error)}` }),
        ),
      )
      yield* Effect.logInfo(`connected to ${shown}`)
      yield* Metric.update(connectionsMax, config.databasePoolSize)
      const health = DatabaseHealth.of({
        enabled: true,
        check: client`SELECT 1`.pipe(
          Effect.timeout(HEALTH_TIMEOUT),
          Effect.mapError((error) => new DatabaseUnavailable({ message: describe(error) })),
          Effect.asVoid,
        ),
      })
      return Context.make(PgClient.PgClient, client).pipe(
        Context.add(SqlClient.SqlClient, client),
        Context.add(DatabaseHealth, health),
      )
    }),
  ).pipe(Layer.provide(Reactivity.layer))

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
