import { assert, describe, it } from "@effect/vitest"
import * as AuthApp from "@platform/auth/App"
import * as GatewayApp from "@platform/gateway/App"
import * as LangApp from "@platform/lang/App"
import * as TcpProxy from "@platform/testkit/TcpProxy"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Fiber, Schedule } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Outages as the original services live through them, and better: a database cut under load
 * (a TCP proxy in front of it, stopped and started) must not leave a request hanging, must turn
 * `/healthz` to 503 and back, and must not lose a row the contract says is written before the
 * answer (lang's executions, gateway's invocations): they are held and written on the return.
 */

const realServer = () => {
  const real = TestDatabase.serverUrl()
  return { host: real.hostname, port: Number(real.port || 5432) }
}

const status = (url: string) =>
  Effect.promise(() =>
    fetch(url).then(
      (response) => response.status,
      () => 0,
    ),
  )

const until = (url: string, expected: number) =>
  status(url).pipe(
    Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (got) => got === expected }),
    Effect.timeout("15 seconds"),
  )

/** The names in `table`, from a connection of the test's own (not through the proxy). */
const namesIn = (database: URL, table: "executions" | "invocations") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ name: string }>`SELECT name FROM ${sql(table)}`).pipe(
    Effect.map((rows) => rows.map((row) => row.name)),
    Effect.provide(TestDatabase.sqlClient(database)),
    Effect.orDie,
  )

interface Answer {
  readonly name: string
  readonly status: number
  readonly ms: number
}

describe("a database outage under load", () => {
  it.live(
    "lang and gateway: every request answered in bounded time, health 503 then 200, every row written once back",
    () =>
      Effect.gen(function* () {
        const langDb = yield* TestDatabase.freshDatabase("outage_lang")
        const gatewayDb = yield* TestDatabase.freshDatabase("outage_gateway")
        const langProxy = yield* TcpProxy.make(realServer())
        const gatewayProxy = yield* TcpProxy.make(realServer())
        // lang holds its row sooner than gateway's 1 s per-attempt timeout runs out.
        const lang = yield* TestServer.serve(LangApp, {
          DATABASE_URL: langProxy.via(langDb).href,
          DATABASE_WRITE_TIMEOUT_MS: "300",
        })
        const gateway = yield* TestServer.serve(GatewayApp, {
          DATABASE_URL: gatewayProxy.via(gatewayDb).href,
          CUSTOM_LANG_BASE_URL: lang,
        })

        const answers: Array<Answer> = []
        let running = true
        let next = 0
        const client = Effect.promise(async () => {
          while (running) {
            const name = `load-${next++}`
            const started = performance.now()
            const response = await fetch(`${gateway}/gateway.v1.GatewayService/InvokeCustom`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ name }),
              signal: AbortSignal.timeout(20_000),
            }).catch(() => undefined)
            await response?.arrayBuffer()
            answers.push({ name, status: response?.status ?? 0, ms: performance.now() - started })
          }
        })
        const load = yield* Effect.forkChild(
          Effect.all(
            Array.from({ length: 6 }, () => client),
            { concurrency: 6 },
          ),
        )

        yield* Effect.sleep("700 millis")
        yield* Effect.all([langProxy.cut, gatewayProxy.cut])
        yield* Effect.all([until(`${lang}/healthz`, 503), until(`${gateway}/healthz`, 503)])
        const duringOutage = answers.length
        yield* Effect.sleep("2500 millis")
        assert.isAbove(answers.length, duringOutage, "requests are still answered while the database is away")
        yield* Effect.all([langProxy.restore, gatewayProxy.restore])
        yield* Effect.all([until(`${lang}/healthz`, 200), until(`${gateway}/healthz`, 200)])
        yield* Effect.sleep("500 millis")
        running = false
        yield* Fiber.join(load)

        const failed = answers.filter((answer) => answer.status !== 200)
        assert.deepStrictEqual(failed, [], "every request answered 200")
        const slowest = Math.max(...answers.map((answer) => answer.ms))
        assert.isBelow(slowest, 3000, "no request waited for the outage to end")

        const names = answers.map((answer) => answer.name).sort()
        // Held rows are written within the reconnect backoff (5 s at most) of the return.
        const invocations = yield* namesIn(gatewayDb, "invocations").pipe(
          Effect.repeat({ schedule: Schedule.spaced("200 millis"), until: (rows) => rows.length >= names.length }),
          Effect.timeout("15 seconds"),
        )
        assert.deepStrictEqual(invocations.sort(), names, "one invocations row per request, none lost")
        const executions = yield* namesIn(langDb, "executions").pipe(
          Effect.repeat({
            schedule: Schedule.spaced("200 millis"),
            until: (rows) => new Set(rows).size >= names.length,
          }),
          Effect.timeout("15 seconds"),
        )
        // Every request reached lang at least once (a timed-out attempt is retried).
        assert.deepStrictEqual([...new Set(executions)].sort(), names)
      }),
    { timeout: 90_000 },
  )

  it.live("lang started against an unreachable database answers 503, then 200, and records rows once it is back", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("outage_late")
      const proxy = yield* TcpProxy.make(realServer())
      yield* proxy.cut
      const lang = yield* TestServer.serve(LangApp, { DATABASE_URL: proxy.via(database).href })
      assert.strictEqual(yield* status(`${lang}/healthz`), 503)
      assert.strictEqual(yield* status(`${lang}/readyz`), 503)
      const invoke = (name: string) =>
        Effect.promise(async () => {
          const started = performance.now()
          const response = await fetch(`${lang}/invoke`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name }),
          })
          return { status: response.status, body: await response.text(), ms: performance.now() - started }
        })
      const before = yield* invoke("before")
      assert.strictEqual(before.status, 200)
      assert.strictEqual(before.body, '{"message":"Hello before from custom-lang-service!"}')
      assert.isBelow(before.ms, 2500)
      yield* proxy.restore
      yield* until(`${lang}/healthz`, 200)
      assert.strictEqual(yield* status(`${lang}/readyz`), 200)
      assert.strictEqual((yield* invoke("after")).status, 200)
      const names = yield* namesIn(database, "executions").pipe(
        Effect.repeat({ schedule: Schedule.spaced("200 millis"), until: (rows) => rows.length >= 2 }),
        Effect.timeout("15 seconds"),
      )
      assert.sameMembers(names, ["before", "after"])
    }),
  )

  it.live("auth started without its database: 503 database unavailable until its keys are loaded, then it signs", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("outage_auth")
      const proxy = yield* TcpProxy.make(realServer())
      yield* proxy.cut
      const auth = yield* TestServer.serve(AuthApp, { DATABASE_URL: proxy.via(database).href })
      const jwks = Effect.promise(async () => {
        const response = await fetch(`${auth}/.well-known/jwks.json`)
        return { status: response.status, body: await response.text() }
      })
      assert.deepStrictEqual(yield* jwks, { status: 503, body: '{"error":"database unavailable"}' })
      yield* proxy.restore
      const loaded = yield* jwks.pipe(
        Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (answer) => answer.status === 200 }),
        Effect.timeout("15 seconds"),
      )
      assert.lengthOf((JSON.parse(loaded.body) as { keys: Array<unknown> }).keys, 1)
    }),
  )
})
