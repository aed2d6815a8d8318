import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { freePort, start } from "@platform/testkit/Processes"

const fixture = fileURLToPath(new URL("./fixtures/service.ts", import.meta.url))

const messages = (lines: ReadonlyArray<Record<string, unknown>>) => lines.map((line) => line.message)

describe("a service process", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} while a request is in flight: the request completes, then the process exits 0`, async () => {
      const port = await freePort()
      const service = start(fixture, { PORT: String(port), SLOW_MS: "800" })
      await service.waitFor((line) => line.message === "ready")
      // fetch keeps the connection alive: the drain must not wait for the idle connection.
      const inFlight = fetch(`http://127.0.0.1:${port}/slow`).then(async (response) => ({
        status: response.status,
        body: await response.text(),
      }))
      await new Promise((resolve) => setTimeout(resolve, 200))
      service.child.kill(signal)
      const response = await inFlight
      const code = await service.exited
      assert.deepStrictEqual(response, { status: 200, body: "finished\n" })
      assert.strictEqual(code, 0)
      const logged = messages(service.lines)
      assert.include(logged, "shutting down: draining in-flight work")
      assert.strictEqual(logged.at(-1), "stopped")
      // Every line is a JSON object with the kernel's fields.
      for (const line of service.lines) {
        assert.hasAllKeys(line, ["time", "level", "service", "message"])
        assert.strictEqual(line.service, "fixture")
      }
    })
  }

  it("a bad PORT stops start-up with one line naming the variable, and exit code 1", async () => {
    const service = start(fixture, { PORT: "eighty" })
    const code = await service.exited
    assert.strictEqual(code, 1)
    assert.strictEqual(service.lines.length, 1)
    assert.strictEqual(service.lines[0]?.level, "fatal")
    assert.strictEqual(
      service.lines[0]?.message,
      'invalid configuration: PORT: expected a positive whole number, got "eighty"',
    )
    assert.strictEqual(service.stderr(), "")
  })

  it("a database that does not answer: the service starts, says so once, and /healthz and /readyz answer 503", async () => {
    const closed = await freePort()
    const port = await freePort()
    const service = start(fixture, {
      PORT: String(port),
      DATABASE_URL: `postgresql://svc:pw@127.0.0.1:${closed}/fixture_db`,
    })
    try {
      await service.waitFor((line) => line.message === "ready")
      const expected = {
        "/healthz": { error: "db health check failed" },
        "/readyz": { ready: false, database: "down", spools: {} },
      }
      for (const [path, body] of Object.entries(expected)) {
        const response = await fetch(`http://127.0.0.1:${port}${path}`)
        assert.strictEqual(response.status, 503)
        assert.deepStrictEqual(await response.json(), body)
      }
      const waiting = service.lines.filter((line) => String(line.message).startsWith("waiting for the database"))
      assert.strictEqual(waiting.length, 1)
      assert.match(
        String(waiting[0]?.message),
        /^waiting for the database at postgresql:\/\/svc:\*\*\*@127\.0\.0\.1:\d+\/fixture_db: connect ECONNREFUSED .*; serving without it \(\/healthz answers 503\) until it answers$/,
      )
      // The password never appears.
      assert.notInclude(JSON.stringify(service.lines), ":pw@")
    } finally {
      service.child.kill("SIGTERM")
      assert.strictEqual(await service.exited, 0)
    }
  })

  it("a port already in use is reported before the database is tried, and exit code 1", async () => {
    const blocker = net.createServer()
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, () => resolve((blocker.address() as net.AddressInfo).port)),
    )
    try {
      // Said before the database is even tried: one line, whatever the database does.
      const closed = await freePort()
      const service = start(fixture, { PORT: String(port), DATABASE_URL: `postgresql://svc@127.0.0.1:${closed}/x_db` })
      assert.strictEqual(await service.exited, 1)
      assert.match(String(service.lines.at(-1)?.message), /^cannot start the HTTP server: listen EADDRINUSE/)
      assert.strictEqual(service.lines.length, 1, JSON.stringify(service.lines))
    } finally {
      blocker.close()
    }
  })
})
