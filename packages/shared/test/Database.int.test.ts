import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer, Logger } from "effect"
import { SqlClient } from "effect/sql"
import * as Database from "../src/Database.ts"
import { jsonLogger } from "../src/Logging.ts"

const defaults = { name: "db-test", port: 1 }

const migrations: Database.Migrations = {
  "0001_create_notes": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)`,
  ),
  "0002_add_author": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`ALTER TABLE notes ADD COLUMN author text`),
}

/** Runs `Database.layer` against `url` and returns what it logged and what the database then holds. */
const startOnce = (url: URL, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const lines: Array<{ level: string; message: string }> = []
    const logger = Logger.layer([jsonLogger("db-test", (line) => lines.push(JSON.parse(line)))])
    const applied = yield* Effect.scoped(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const health = yield* Database.DatabaseHealth
        yield* health.check
        return yield* sql<{ migration_id: number; name: string }>`
          SELECT migration_id, name FROM effect_sql_migrations ORDER BY migration_id`
      }).pipe(
        Effect.provide(
          Database.layer(migrations).pipe(
            Layer.provide(TestServer.config(defaults, { DATABASE_URL: url.href, ...env })),
            Layer.provide(logger),
          ),
        ),
      ),
    )
    return { applied, messages: lines.map((line) => line.message) }
  })

describe("Database", () => {
  it.live("creates a missing database, applies the migrations, and a second start changes nothing", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.unusedDatabase("db_test")
      const first = yield* startOnce(url)
      assert.include(first.messages, `created database ${url.pathname.slice(1)}`)
      assert.include(first.messages, "applied migrations: 1_create_notes, 2_add_author")
      assert.deepStrictEqual(first.applied, [
        { migration_id: 1, name: "create_notes" },
        { migration_id: 2, name: "add_author" },
      ])
      const second = yield* startOnce(url)
      assert.notInclude(second.messages.join("\n"), "created database")
      assert.include(second.messages, "database schema is up to date")
      assert.deepStrictEqual(second.applied, first.applied)
    }),
  )

  it.live("two replicas starting at once on a new database both come up, and migrate it once", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.unusedDatabase("db_race")
      const [a, b] = yield* Effect.all([startOnce(url), startOnce(url)], { concurrency: 2 })
      assert.deepStrictEqual(a.applied, b.applied)
      assert.strictEqual(a.applied.length, 2)
    }),
  )

  it.live("waits for a server that is not up yet, saying so, then connects", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.freshDatabase("db_late")
      const real = TestDatabase.serverUrl()
      // A port with nothing behind it until, a moment later, a proxy to the real server opens on it.
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const probe = net.createServer().listen(0, "127.0.0.1", () => {
              const { port } = probe.address() as net.AddressInfo
              probe.close(() => resolve(port))
            })
          }),
      )
      const proxy = net.createServer((client) => {
        const upstream = net.connect(Number(real.port || 5432), real.hostname)
        client.pipe(upstream).pipe(client)
        client.on("error", () => upstream.destroy())
        upstream.on("error", () => client.destroy())
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => proxy.close()))
      setTimeout(() => proxy.listen(port, "127.0.0.1"), 700)
      const late = new URL(url.href)
      late.port = String(port)
      const started = yield* startOnce(late)
      assert.isTrue(started.messages.some((message) => message.startsWith("waiting for the database at")))
      assert.strictEqual(started.applied.length, 2)
    }),
  )

  it.live("a migration that fails stops start-up with the database's own reason", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.freshDatabase("db_bad")
      const broken = { "0001_broken": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE (`) }
      const error = yield* Effect.flip(
        Effect.scoped(
          Layer.build(
            Database.layer(broken).pipe(Layer.provide(TestServer.config(defaults, { DATABASE_URL: url.href }))),
          ),
        ),
      )
      assert.strictEqual(error._tag, "DatabaseUnavailable")
      assert.match(error.message, /^migrating postgresql:\/\/.*: syntax error at or near "\("/)
    }),
  )

  it.live("without DATABASE_URL, the optional layer runs the service's disabled variant and says so", () =>
    Effect.gen(function* () {
      const lines: Array<{ message: string }> = []
      const logger = Logger.layer([jsonLogger("db-test", (line) => lines.push(JSON.parse(line)))])
      const Marker = Layer.succeed(SqlClient.SqlClient, undefined as never)
      const health = yield* Effect.scoped(
        Effect.flatMap(Database.DatabaseHealth, (health) => Effect.as(health.check, health.enabled)).pipe(
          Effect.provide(
            Database.layerOptional({ migrations, enabled: Marker, disabled: Layer.empty }).pipe(
              Layer.provide(TestServer.config(defaults, {})),
              Layer.provide(logger),
            ),
          ),
        ),
      )
      assert.isFalse(health)
      assert.deepStrictEqual(
        lines.map((line) => line.message),
        ["DATABASE_URL is not set: persistence is disabled, nothing will be stored"],
      )
    }),
  )
})
