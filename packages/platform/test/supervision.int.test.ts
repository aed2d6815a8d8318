import * as fs from "node:fs"
import * as http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { start } from "@platform/testkit/Processes"
import { services } from "../src/Services.ts"

/**
 * As a user meets it: `./platform start` with PLATFORM_PORT_OFFSET=3000 (lang on 6000 and greeter
 * on 11080, ports `fetch` refuses) and JSON logs; then `kill -9` of every service's process in
 * turn. Each is reported by name, started again, answers again, and the readiness line is printed
 * again; every line of output is JSON.
 */
const runner = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const OFFSET = 3000

/** The process listening as `name` for this run: `node src/main.ts` with its PORT. */
const pidOf = (port: number): number | undefined => {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0")
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8")
      if (cmdline.includes("src/main.ts") && environ.includes(`PORT=${port}`)) return Number(entry)
    } catch {}
  }
  return undefined
}

/** The status a GET answers with, through node:http (no blocked-port list), or 0 with no answer. */
const status = (url: string) =>
  new Promise<number>((resolve) => {
    const request = http.get(url, { timeout: 1000 }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on("timeout", () => request.destroy())
    request.on("error", () => resolve(0))
  })

const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

describe("the runner supervises what it starts", () => {
  it("kill -9 of each service: reported by name, restarted, answering again; JSON logs only", async () => {
    const dataDir = fs.mkdtempSync(join(tmpdir(), "platform-supervision-"))
    // As root, PostgreSQL runs as the postgres user: it must be able to reach the folder.
    fs.chmodSync(dataDir, 0o755)
    const running = start(runner, {
      EMBEDDED_POSTGRES_DIR: join(dataDir, "postgres"),
      PLATFORM_LOG_FORMAT: "json",
      PLATFORM_PORT_OFFSET: String(OFFSET),
    })
    const said = (predicate: (line: Record<string, unknown>) => boolean) => running.lines.some(predicate)
    const message = (line: Record<string, unknown>) => String(line.message ?? "")
    try {
      await running.waitFor((line) => message(line).startsWith("platform ready in"), 120_000)
      for (const spec of services) {
        const port = spec.port + OFFSET
        const url = `http://127.0.0.1:${port}${spec.health}`
        assert.strictEqual(await status(url), 200, `${spec.name} answers before`)
        const pid = pidOf(port)
        assert.isDefined(pid, `${spec.name}'s process`)
        const killedAt = Date.now()
        process.kill(pid as number, "SIGKILL")
        await waitUntil(
          `${spec.name} reported`,
          () =>
            said(
              (line) => line.service === "platform" && message(line).startsWith(`${spec.name} stopped: it was killed`),
            ),
          2_000,
        )
        assert.isBelow(Date.now() - killedAt, 2_500)
        await waitUntil(
          `${spec.name} answering again`,
          async () => (await status(url)) === 200 && pidOf(port) !== pid,
          15_000,
        )
        await waitUntil(
          `the readiness line again for ${spec.name}`,
          () => said((line) => message(line).startsWith(`platform ready again: ${spec.name} was restarted`)),
          5_000,
        )
      }
      const notJson = running.lines.filter((line) => "raw" in line)
      assert.deepStrictEqual(notJson, [], "every line of output is a JSON object")

      // The runner itself killed: the services it started drain and exit, rather than run on.
      const pids = services.map((spec) => pidOf(spec.port + OFFSET))
      running.child.kill("SIGKILL")
      await running.exited
      await waitUntil(
        "the services exit once the runner is gone",
        () => pids.every((pid) => pid === undefined || !fs.existsSync(`/proc/${pid}`)),
        30_000,
      )
    } finally {
      if (running.child.exitCode === null && running.child.signalCode === null) {
        running.child.kill("SIGINT")
        await running.exited
      }
      // The embedded PostgreSQL runs in a process group of its own: stopped here if still running.
      const pidFile = join(dataDir, "postgres", "postmaster.pid")
      if (fs.existsSync(pidFile)) {
        try {
          process.kill(Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]), "SIGINT")
        } catch {}
      }
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 240_000)
})
