import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as ExternalStub from "@platform/platform/ExternalStub"
import { freePort, start } from "@platform/testkit/Processes"
import * as TcpProxy from "@platform/testkit/TcpProxy"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import { Context, Deferred, Effect, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

describe("caller's call logs across a graceful shutdown", () => {
  it.live("N concurrent calls, SIGTERM right after the last answer: exit 0 and exactly N rows", () =>
    Effect.gen(function* () {
      const N = 300
      const database = yield* TestDatabase.freshDatabase("caller_shutdown")
      const stub = yield* Effect.acquireRelease(
        Effect.promise(() => ExternalStub.start()),
        (stub) => Effect.promise(stub.close),
      )
      const port = yield* Effect.promise(freePort)
      // A small batch size, so that many INSERTs are still queued when the signal comes.
      const caller = start(main, {
        PORT: String(port),
        DATABASE_URL: database.href,
        // The stub is on loopback.
        CALLER_ALLOW_PRIVATE_NETWORKS: "true",
        CALLER_LOG_BATCH_SIZE: "10",
        LOG_LEVEL: "info",
      })
      yield* Effect.promise(() => caller.waitFor((line) => line.message === "ready"))
      // Hold the table: every INSERT now waits, so the rows pile up in the queue. The calls must
      // still be answered (the insert is off the request path).
      const sql = yield* Effect.map(Layer.build(TestDatabase.sqlClient(database)), Context.get(SqlClient.SqlClient))
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const lock = yield* Effect.forkChild(
        sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`LOCK TABLE call_logs IN ACCESS EXCLUSIVE MODE`
            yield* Deferred.succeed(locked, undefined)
            yield* Deferred.await(release)
          }),
        ),
      )
      yield* Deferred.await(locked)
      const answers = yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: N }, (_, i) =>
            fetch(`http://127.0.0.1:${port}/caller.v1.CallerService/CallExternal`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ url: `${stub.url}/status/${200 + (i % 3)}?i=${i}` }),
            }).then((response) => response.status),
          ),
        ),
      )
      caller.child.kill("SIGTERM")
      // The database comes back while the service drains.
      yield* Effect.sleep("300 millis")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(lock)
      const code = yield* Effect.promise(() => caller.exited)
      assert.isTrue(answers.every((status) => status === 200))
      assert.strictEqual(code, 0)
      const rows = yield* sql<{ n: number; distinct_urls: number }>`
        SELECT count(*)::int AS n, count(DISTINCT url)::int AS distinct_urls FROM call_logs`
      assert.deepStrictEqual(rows, [{ n: N, distinct_urls: N }])
      const messages = caller.lines.map((line) => String(line.message))
      const backlog = messages.find((message) => message.startsWith("writing ") && message.endsWith("before exit"))
      assert.isDefined(backlog, "rows were still queued when the signal came")
      assert.notInclude(messages.join("\n"), "could not be stored")
    }),
  )

  for (const outage of [true, false]) {
    it.live(
      `kill -9 under load with the database ${outage ? "down" : "up"}: after a restart, every answered call has exactly one row`,
      () =>
        Effect.gen(function* () {
          const N = 400
          const database = yield* TestDatabase.freshDatabase("caller_crash")
          const real = new URL(database.href)
          const proxy = yield* TcpProxy.make({ host: real.hostname, port: Number(real.port || 5432) })
          const spool = fs.mkdtempSync(path.join(os.tmpdir(), "caller-spool-"))
          yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(spool, { recursive: true, force: true })))
          const stub = yield* Effect.acquireRelease(
            Effect.promise(() => ExternalStub.start()),
            (stub) => Effect.promise(stub.close),
          )
          const port = yield* Effect.promise(freePort)
          const env = {
            PORT: String(port),
            DATABASE_URL: proxy.via(database).href,
            CALLER_ALLOW_PRIVATE_NETWORKS: "true",
            CALLER_SPOOL_DIR: spool,
            CALLER_LOG_BATCH_SIZE: "10",
            LOG_LEVEL: "info",
          }
          const first = start(main, env)
          yield* Effect.promise(() => first.waitFor((line) => line.message === "ready"))
          if (outage) yield* proxy.cut
          // Calls 10 at a time, 400 in all; the process is killed while most are still to come.
          const answered: Array<number> = []
          const call = (i: number) =>
            fetch(`http://127.0.0.1:${port}/caller.v1.CallerService/CallExternal`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ url: `${stub.url}/status/200?i=${i}` }),
            }).then(
              (response) => {
                if (response.status === 200) answered.push(i)
              },
              () => undefined,
            )
          const load = Promise.all(
            Array.from({ length: 10 }, async (_, worker) => {
              for (let i = worker; i < N; i += 10) await call(i)
            }),
          )
          // Killed once 40 calls have been answered (not after a fixed time: a slow machine's first
          // calls take longer), while the rest are still coming.
          for (let waited = 0; answered.length < 40 && waited < 100; waited++) yield* Effect.sleep("50 millis")
          first.child.kill("SIGKILL")
          yield* Effect.promise(() => load)
          yield* Effect.promise(() => first.exited)
          assert.isAbove(answered.length, 20, "calls were answered before the kill")
          if (outage) yield* proxy.restore

          const second = start(main, env)
          yield* Effect.addFinalizer(() => Effect.sync(() => second.child.kill("SIGTERM")))
          yield* Effect.promise(() => second.waitFor((line) => line.message === "ready"))
          const sql = yield* Effect.map(Layer.build(TestDatabase.sqlClient(database)), Context.get(SqlClient.SqlClient))
          const stored = () =>
            sql<{ url: string }>`SELECT url FROM call_logs`.pipe(Effect.map((rows) => rows.map((row) => row.url)))
          let urls: ReadonlyArray<string> = []
          for (let attempt = 0; attempt < 100; attempt++) {
            urls = yield* stored()
            if (urls.length >= answered.length) break
            yield* Effect.sleep("100 millis")
          }
          const counts = new Map<string, number>()
          for (const url of urls) counts.set(url, (counts.get(url) ?? 0) + 1)
          const missing = answered.filter((i) => counts.get(`${stub.url}/status/200?i=${i}`) !== 1)
          assert.deepStrictEqual(missing, [], `${answered.length} answered, ${urls.length} rows`)
          assert.isAtMost(urls.length, answered.length + 10, "no row twice (at most a few calls cut mid-answer)")
          assert.strictEqual(new Set(urls).size, urls.length, "no row twice")
        }),
    )
  }
})
