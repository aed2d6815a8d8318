import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { startRunner } from "./support.ts"

const text = (lines: ReadonlyArray<Record<string, unknown>>) => lines.map((line) => JSON.stringify(line)).join("\n")

describe("the platform runner", () => {
  it("a port already in use is reported by name, and nothing is started", async () => {
    const offset = 20_000
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(8090 + offset, resolve))
    const { running, cleanup } = startRunner({ PLATFORM_PORT_OFFSET: String(offset) })
    try {
      assert.strictEqual(await running.exited, 1)
      assert.include(text(running.lines), `port ${8090 + offset} (auth) is already in use`)
      assert.notInclude(text(running.lines), "initialising a PostgreSQL cluster")
    } finally {
      blocker.close()
      cleanup()
    }
  }, 30_000)

  it("a service that fails to start is reported by name with its reason; the rest are stopped", async () => {
    // Every port below the ephemeral range (32768), where no other test's free port can land.
    const offset = 1_500
    const { running, cleanup } = startRunner({ PLATFORM_PORT_OFFSET: String(offset), AUTH_PRIVATE_KEY: "not a key" })
    try {
      assert.strictEqual(await running.exited, 1)
      const output = text(running.lines)
      assert.include(output, "auth failed: AUTH_PRIVATE_KEY: expected RSA private keys")
      // Whatever had started was stopped before the runner exited: the ports are free again.
      for (const port of [3000, 8080, 8081, 8082, 30081].map((p) => p + offset)) {
        await new Promise<void>((resolve, reject) => {
          const probe = net.createServer()
          probe.once("error", reject)
          probe.listen(port, () => probe.close(() => resolve()))
        })
      }
    } finally {
      cleanup()
    }
  }, 60_000)
})
