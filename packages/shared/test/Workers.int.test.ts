import { execFileSync } from "node:child_process"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { freePort, type Running, start } from "@platform/testkit/Processes"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import { Effect } from "effect"
import parsePrometheus from "parse-prometheus-text-format"

const fixture = fileURLToPath(new URL("./fixtures/service.ts", import.meta.url))

/** A GET on a connection of its own, so the cluster hands each request to the next worker. */
const get = (port: number, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, agent: false }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        body += chunk
      })
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on("error", reject)
  })

const workerPids = (primary: Running) =>
  execFileSync("ps", ["-o", "pid=", "--ppid", String(primary.child.pid)], { encoding: "utf8" })
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0)

/** `http_server_requests_total` for `route`, per worker, from the service's one `/metrics`. */
const requestsByWorker = (exposition: string, route: string) => {
  const family = parsePrometheus(exposition).find((f) => f.name === "http_server_requests_total")
  const counts = new Map<string, number>()
  for (const sample of family?.metrics ?? []) {
    if (sample.labels?.route !== route) continue
    const worker = sample.labels?.worker ?? "none"
    counts.set(worker, (counts.get(worker) ?? 0) + Number(sample.value))
  }
  return counts
}

const messages = (running: Running) => running.lines.map((line) => String(line.message))

describe("WORKERS: one service on several processes", () => {
  it.live(
    "two workers share the port and one /metrics; a killed worker comes back; SIGTERM drains both",
    () =>
      Effect.gen(function* () {
        const database = yield* TestDatabase.freshDatabase("workers")
        const port = yield* Effect.promise(freePort)
        const service = start(fixture, {
          PORT: String(port),
          WORKERS: "2",
          SLOW_MS: "600",
          DATABASE_URL: database.href,
          LOG_LEVEL: "info",
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => service.child.kill("SIGKILL")))
        yield* Effect.promise(() => service.waitFor((line) => line.message === `ready: 2 workers on port ${port}`))
        // Worker 1 migrated alone before the second started: one migration, applied once.
        assert.strictEqual(messages(service).filter((m) => m.startsWith("applied migrations")).length, 1)

        for (let i = 0; i < 40; i++)
          assert.strictEqual((yield* Effect.promise(() => get(port, "/healthz"))).status, 200)
        const metrics = yield* Effect.promise(() => get(port, "/metrics"))
        const served = requestsByWorker(metrics.body, "/healthz")
        assert.deepStrictEqual([...served.keys()].sort(), ["1", "2"], "both workers served, both in one /metrics")
        assert.strictEqual(
          [...served.values()].reduce((a, b) => a + b, 0),
          40,
          "every request counted once",
        )
        // One family, one TYPE line, however many workers.
        assert.strictEqual(metrics.body.match(/^# TYPE http_server_requests_total /gm)?.length, 1)

        // A worker killed outright is replaced, and the port keeps answering meanwhile.
        const [victim] = workerPids(service)
        process.kill(victim ?? 0, "SIGKILL")
        yield* Effect.promise(() =>
          service.waitFor((line) =>
            /^worker \d stopped \(signal SIGKILL\); starting it again$/.test(String(line.message)),
          ),
        )
        for (let i = 0; i < 10; i++)
          assert.strictEqual((yield* Effect.promise(() => get(port, "/healthz"))).status, 200)
        const restartedFrom = service.lines.findIndex((line) => String(line.message).endsWith("starting it again"))
        yield* Effect.promise(() =>
          service.waitFor((line) => line.message === "ready" && service.lines.indexOf(line) >= restartedFrom),
        )
        assert.strictEqual(workerPids(service).length, 2)
        assert.notInclude(workerPids(service), victim)

        // SIGTERM with a slow request on each worker: both finish, then everything exits 0.
        const inFlight = [get(port, "/slow"), get(port, "/slow")]
        yield* Effect.sleep("200 millis")
        service.child.kill("SIGTERM")
        const answers = yield* Effect.promise(() => Promise.all(inFlight))
        assert.deepStrictEqual(
          answers.map((answer) => answer.status),
          [200, 200],
        )
        assert.strictEqual(yield* Effect.promise(() => service.exited), 0)
        const drained = service.lines.filter((line) => line.message === "shutting down: draining in-flight work")
        assert.deepStrictEqual(drained.map((line) => line.worker).sort(), [1, 2])
        assert.strictEqual(service.lines.at(-1)?.message, "stopped")
        assert.isUndefined(service.lines.at(-1)?.worker, "the primary is the last to stop")
      }),
    { timeout: 60_000 },
  )

  it("a bad WORKERS stops start-up with one line naming it", async () => {
    const service = start(fixture, { PORT: String(await freePort()), WORKERS: "many" })
    assert.strictEqual(await service.exited, 1)
    assert.strictEqual(
      service.lines[0]?.message,
      'invalid configuration: WORKERS: expected auto or a number of processes from 1 to 256, got "many"',
    )
  })
})
