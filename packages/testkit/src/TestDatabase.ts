import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import * as Database from "@platform/shared/Database"
import { Effect, Layer, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import type { SqlClient } from "effect/sql"

/**
 * A fresh PostgreSQL database per test file (dropped afterwards, so files run in parallel), on
 * the run's server: `TEST_DATABASE_URL`, which `DatabaseSetup` (vitest's global setup) sets to
 * the server it found or started when the user did not.
 */
export const serverUrl = (): URL => {
  const url = process.env.TEST_DATABASE_URL
  if (url === undefined || url === "") {
    throw new Error("TEST_DATABASE_URL is not set: run the tests through vitest, whose global setup provides a server")
  }
  return new URL(url)
}

/** Runs statements on the test server's maintenance database (altering databases, say). */
export const onServer = <A, E, R>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E, R>) =>
  Effect.scoped(
    Effect.flatMap(
      PgClient.make({ url: Redacted.make(serverUrl().href), maxConnections: 1, applicationName: "tests" }),
      f,
    ),
  ).pipe(Effect.provide(Reactivity.layer))

const uniqueName = (prefix: string) =>
  `${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(5).toString("hex")}`

const drop = (url: URL) => Database.dropDatabase(url, "tests").pipe(Effect.orDie)

/** A database named `<prefix>_<random>` that exists for the enclosing scope, then is dropped. */
export const freshDatabase = (prefix: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const url = Database.withDatabase(serverUrl(), uniqueName(prefix))
      yield* Database.createDatabase(url, "tests")
      return url
    }).pipe(Effect.orDie),
    drop,
  )

/** A URL for a database that does not exist yet; dropped when the scope closes if it was created. */
export const unusedDatabase = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => Database.withDatabase(serverUrl(), uniqueName(prefix))),
    drop,
  )

/** A pool on the given database, for a test to look at the rows a service wrote. */
export const sqlClient = (url: URL) =>
  PgClient.layer({ url: Redacted.make(url.href), maxConnections: 2, applicationName: "tests" }).pipe(Layer.orDie)
