import { assert, describe, it } from "@effect/vitest"
import * as TcpProxy from "@platform/testkit/TcpProxy"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Context, Duration, Effect, Layer, Logger, Schedule } from "effect"
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
        yield* health.ready
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

/** The database layer on a fresh database reached through a TCP proxy the test can cut or freeze. */
const behindProxy = (name: string, logger: Layer.Layer<never>) =>
  Effect.gen(function* () {
    const url = yield* TestDatabase.freshDatabase(name)
    const real = TestDatabase.serverUrl()
    const proxy = yield* TcpProxy.make({ host: real.hostname, port: Number(real.port || 5432) })
    const context = yield* Layer.build(
      Database.layer(migrations).pipe(
        Layer.provide(TestServer.config(defaults, { DATABASE_URL: proxy.via(url).href })),
        Layer.provide(logger),
      ),
    )
    return { proxy, context }
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

  it.live("starts without a server that is not up yet, saying so, then connects and migrates", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.freshDatabase("db_late")
      const real = TestDatabase.serverUrl()
      const proxy = yield* TcpProxy.make({ host: real.hostname, port: Number(real.port || 5432) })
      yield* proxy.cut
      const lines: Array<{ level: string; message: string }> = []
      const logger = Logger.layer([jsonLogger("db-test", (line) => lines.push(JSON.parse(line)))])
      const context = yield* Layer.build(
        Database.layer(migrations).pipe(
          Layer.provide(TestServer.config(defaults, { DATABASE_URL: proxy.via(url).href })),
          Layer.provide(logger),
        ),
      )
      const health = Context.get(context, Database.DatabaseHealth)
      // Started at once, and unhealthy until the database answers.
      const before = yield* Effect.flip(health.check)
      assert.match(before.message, /^the database at postgresql:\/\/.* has not answered yet$/)
      assert.match(
        lines.map((line) => line.message).join("\n"),
        /^waiting for the database at .*: connect ECONNREFUSED .*; serving without it \(\/healthz answers 503\) until it answers$/m,
      )
      yield* proxy.restore
      yield* health.ready.pipe(Effect.timeout("10 seconds"))
      yield* health.check
      const sql = Context.get(context, SqlClient.SqlClient)
      const applied = yield* sql`SELECT migration_id FROM effect_sql_migrations`
      assert.strictEqual(applied.length, 2)
      assert.strictEqual(lines.filter((line) => line.message.startsWith("connected to")).length, 1)
    }),
  )

  it.live("an outage after start-up is one line each way, and the pool reconnects on its own", () => {
    const lines: Array<{ level: string; message: string }> = []
    const logger = Logger.layer([jsonLogger("db-test", (line) => lines.push(JSON.parse(line)))])
    return Effect.gen(function* () {
      const { proxy, context } = yield* behindProxy("db_outage", logger)
      const health = Context.get(context, Database.DatabaseHealth)
      const sql = Context.get(context, SqlClient.SqlClient)
      yield* sql`INSERT INTO notes (body) VALUES ('before')`
      yield* proxy.cut
      // Probed several times during the outage: still one line.
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* Effect.flip(health.check))._tag, "DatabaseUnavailable")
      yield* proxy.restore
      yield* health.check.pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout("10 seconds"))
      yield* sql`INSERT INTO notes (body) VALUES ('after')`.pipe(
        Effect.retry(Schedule.spaced("100 millis")),
        Effect.timeout("10 seconds"),
      )
      const messages = lines.map((line) => line.message)
      assert.strictEqual(messages.filter((message) => message.startsWith("lost the database at")).length, 1)
      assert.strictEqual(messages.filter((message) => message.endsWith("answers again")).length, 1)
      const notes = yield* sql<{ body: string }>`SELECT body FROM notes ORDER BY id`
      assert.deepStrictEqual(
        notes.map((note) => note.body),
        ["before", "after"],
      )
      // The health checks run in the caller's fiber: the lines they log go to its logger.
    }).pipe(Effect.provide(logger))
  })

  it.live("a frozen server (nothing answers, nothing closes): each health check fails within its 2 s", () =>
    Effect.gen(function* () {
      const { proxy, context } = yield* behindProxy("db_frozen", Logger.layer([]))
      const health = Context.get(context, Database.DatabaseHealth)
      yield* health.check
      yield* proxy.freeze
      // The driver's own cancel of the stalled statement takes up to 10 s; the check does not wait for it.
      for (let i = 0; i < 3; i++) {
        const [took, error] = yield* Effect.timed(Effect.flip(health.check))
        assert.strictEqual(error._tag, "DatabaseUnavailable")
        assert.isBelow(Duration.toMillis(took), 2500, `check ${i + 1} answered within its bound`)
      }
      yield* proxy.thaw
      yield* health.check.pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout("15 seconds"))
    }),
  )

  it.live("a statement that runs past DATABASE_STATEMENT_TIMEOUT_MS is cancelled; migrations are not bound by it", () =>
    Effect.gen(function* () {
      const url = yield* TestDatabase.freshDatabase("db_slow")
      const slowMigration = {
        "0001_slow": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT pg_sleep(0.5)`),
      }
      const context = yield* Layer.build(
        Database.layer(slowMigration).pipe(
          Layer.provide(TestServer.config(defaults, { DATABASE_URL: url.href, DATABASE_STATEMENT_TIMEOUT_MS: "200" })),
        ),
      )
      const sql = Context.get(context, SqlClient.SqlClient)
      const started = Date.now()
      const error = yield* Effect.flip(sql`SELECT pg_sleep(2)`)
      assert.strictEqual(Database.errorCode(error), "57014", "query_canceled")
      assert.isBelow(Date.now() - started, 1500)
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
