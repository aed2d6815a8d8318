import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { HttpServer } from "effect/http"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import * as Metrics from "./Metrics.ts"
import { type Defaults, ServiceConfig } from "./ServiceConfig.ts"

/**
 * Helpers for the integration tests of every package: a fresh PostgreSQL database per test
 * file (dropped afterwards, so files run in parallel), the service's configuration from a
 * plain record, and the base URL of a server started on an ephemeral loopback port.
 *
 * `TEST_DATABASE_URL` points the tests at another server (any database on it: it is only used
 * to create and drop the test databases); the default is this machine's local server.
 */
export const serverUrl = (): URL =>
  new URL(process.env.TEST_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres")

const withDatabase = (base: URL, database: string) => {
  const url = new URL(base.href)
  url.pathname = `/${database}`
  return url
}

const maintenance = PgClient.make({
  url: Redacted.make(serverUrl().href),
  maxConnections: 1,
  applicationName: "tests",
}).pipe(Effect.provide(Reactivity.layer))

/** Runs statements on the test server's maintenance database (creating, altering databases). */
export const onServer = <A, E, R>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(maintenance, f))

const dropDatabase = (url: URL) =>
  onServer((sql) => sql`DROP DATABASE IF EXISTS ${sql(url.pathname.slice(1))} WITH (FORCE)`).pipe(Effect.orDie)

const uniqueName = (prefix: string) =>
  `${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(5).toString("hex")}`

/** A database named `<prefix>_<random>` that exists for the enclosing scope, then is dropped. */
export const freshDatabase = (prefix: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = uniqueName(prefix)
      yield* onServer((sql) => sql`CREATE DATABASE ${sql(name)}`)
      return withDatabase(serverUrl(), name)
    }).pipe(Effect.orDie),
    dropDatabase,
  )

/** A URL for a database that does not exist yet; dropped when the scope closes if it was created. */
export const unusedDatabase = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => withDatabase(serverUrl(), uniqueName(prefix))),
    dropDatabase,
  )

/** A pool on the given database, for a test to look at the rows a service wrote. */
export const sqlClient = (url: URL) =>
  PgClient.layer({ url: Redacted.make(url.href), maxConnections: 2, applicationName: "tests" }).pipe(Layer.orDie)

/**
 * The service's settings from a record, as if those were its environment variables. The
 * record is the configuration of everything the layer is provided to (the service's own
 * `Config` reads too), not only of the kernel's settings. Each service built on it gets a
 * metrics registry of its own, as it would in a process of its own.
 */
export const config = (defaults: Defaults, env: Record<string, string>) =>
  ServiceConfig.layer(defaults).pipe(
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { LOG_LEVEL: "warn", ...env } }))),
    Layer.merge(Metrics.layer),
  )

/** `http://127.0.0.1:<port>` of the running test server. */
export const baseUrl = Effect.flatMap(HttpServer.HttpServer, (server) =>
  server.address._tag !== "UnixPathAddress"
    ? Effect.succeed(`http://127.0.0.1:${server.address.port}`)
    : Effect.die(new Error("the test server is not listening on TCP")),
)

/** Re-exported so tests need not import the SQL module to look at rows. */
export { SqlClient }
