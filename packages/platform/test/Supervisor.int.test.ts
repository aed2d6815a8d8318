import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { freePort } from "@platform/testkit/Processes"
import { Deferred, Duration, Effect, Queue } from "effect"
import type { Spec } from "../src/Services.ts"
import * as Supervisor from "../src/Supervisor.ts"

/**
 * `./platform dev`'s restart on change, on a service of its own in a throwaway workspace: its
 * main.ts answers with the version in `src/version.ts`, and the test changes that file the four
 * ways editors and git do, twice each. Every change is reported with the file's name and the
 * new version answers within 2 s.
 */
const workspace = Effect.gen(function* () {
  const root = fs.mkdtempSync(path.join(tmpdir(), "dev-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
  const dir = path.join(root, "packages", "hello")
  fs.mkdirSync(path.join(dir, "src"), { recursive: true })
  fs.mkdirSync(path.join(root, "."), { recursive: true })
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "hello", type: "module" }))
  fs.writeFileSync(
    path.join(dir, "src", "main.ts"),
    `import * as http from "node:http"
import { version } from "./version.ts"
http.createServer((_request, response) => response.end(version)).listen(Number(process.env.PORT), "127.0.0.1")
process.on("SIGTERM", () => process.exit(0))
`,
  )
  const version = path.join(dir, "src", "version.ts")
  fs.writeFileSync(version, `export const version = "v0"\n`)
  const git = (...args: Array<string>) =>
    execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], {
      cwd: root,
      stdio: "ignore",
    })
  git("init", "-q")
  git("add", "-A")
  git("commit", "-q", "-m", "v0")
  return { root, version, git }
})

const get = (url: string) =>
  Effect.callback<string | undefined>((resume) => {
    const request = http.get(url, { timeout: 500 }, (response) => {
      let body = ""
      response.on("data", (chunk) => (body += chunk))
      response.on("end", () => resume(Effect.succeed(body)))
    })
    request.on("timeout", () => request.destroy())
    request.on("error", () => resume(Effect.succeed(undefined)))
  })

/** The workspace's `hello` service supervised on `port`, as the runner supervises lang. */
const superviseHello = (
  root: string,
  port: number,
  options: { readonly watch: boolean; readonly onEvent: (event: Supervisor.Event) => Effect.Effect<unknown> },
) => {
  const spec: Spec = {
    name: "lang",
    dir: "packages/hello",
    port,
    telemetryName: "hello",
    health: "/",
    env: () => ({}),
  }
  return Supervisor.supervise(spec, {
    root,
    port,
    env: {},
    watch: options.watch,
    print: () => {},
    onEvent: options.onEvent,
    readyTimeout: Duration.seconds(30),
  })
}

/** Collects the reason of every crash reported, as they come. */
const crashesOf = (crashes: Array<string>) => (event: Supervisor.Event) =>
  Effect.sync(() => event._tag === "Crashed" && crashes.push(event.reason))

describe("Supervisor", () => {
  it.live("dev: restarts on every change to the service's sources, however it is made, within 2 s", () =>
    Effect.gen(function* () {
      const { root, version, git } = yield* workspace
      const port = yield* Effect.promise(freePort)
      const events = yield* Queue.unbounded<Supervisor.Event>()
      const supervised = yield* superviseHello(root, port, {
        watch: true,
        onEvent: (event) => Queue.offer(events, event),
      })
      yield* Deferred.await(supervised.ready)
      const url = `http://127.0.0.1:${port}/`
      assert.strictEqual(yield* get(url), "v0")

      const expectRestart = (change: () => void, answer: string) =>
        Effect.gen(function* () {
          const started = Date.now()
          change()
          const changed = yield* Queue.take(events)
          assert.deepStrictEqual(changed, {
            _tag: "Changed",
            name: "lang",
            files: [path.join("packages", "hello", "src", "version.ts")],
          })
          while ((yield* get(url)) !== answer) {
            assert.isBelow(Date.now() - started, 2000, `${answer} answers within 2 s`)
            yield* Effect.sleep("50 millis")
          }
          const back = yield* Queue.take(events)
          assert.strictEqual(back._tag, "Ready")
        })

      for (const round of [1, 2]) {
        yield* expectRestart(
          () => fs.writeFileSync(version, `export const version = "edited ${round}"\n`),
          `edited ${round}`,
        )
        yield* expectRestart(() => {
          fs.writeFileSync(`${version}.tmp`, `export const version = "renamed ${round}"\n`)
          fs.renameSync(`${version}.tmp`, version)
        }, `renamed ${round}`)
        yield* expectRestart(() => {
          fs.rmSync(version)
          fs.writeFileSync(version, `export const version = "recreated ${round}"\n`)
        }, `recreated ${round}`)
        yield* expectRestart(() => git("checkout", "--", "packages/hello/src/version.ts"), "v0")
      }
    }),
  )

  it.live("a service that keeps crashing is given up on after 5 restarts in a minute, with the reason", () =>
    Effect.gen(function* () {
      const { root } = yield* workspace
      const port = yield* Effect.promise(freePort)
      fs.writeFileSync(
        path.join(root, "packages", "hello", "src", "main.ts"),
        // Answers, then dies a moment later: every time.
        `import * as http from "node:http"
http.createServer((_request, response) => response.end("up")).listen(Number(process.env.PORT), "127.0.0.1")
setTimeout(() => process.exit(3), 300)
`,
      )
      const crashes: Array<string> = []
      const supervised = yield* superviseHello(root, port, { watch: false, onEvent: crashesOf(crashes) })
      const failure = yield* Effect.flip(Deferred.await(supervised.failed))
      assert.strictEqual(
        failure.message,
        "lang failed: it exited with code 3, and it was restarted 5 times within a minute",
      )
      assert.strictEqual(crashes.length, 6)
    }),
  )

  it.live(
    "a service whose database is away (503, 2 s late) keeps running; one that stops answering is restarted",
    () =>
      Effect.gen(function* () {
        const { root } = yield* workspace
        const port = yield* Effect.promise(freePort)
        fs.writeFileSync(
          path.join(root, "packages", "hello", "src", "main.ts"),
          // After its first answer, its health check takes the 2 s a frozen database's SELECT 1 may.
          `import * as http from "node:http"
let first = true
http.createServer((_request, response) => {
  if (first) { first = false; return response.end(String(process.pid)) }
  setTimeout(() => { response.statusCode = 503; response.end(String(process.pid)) }, 2000)
}).listen(Number(process.env.PORT), "127.0.0.1")
process.on("SIGTERM", () => process.exit(0))
`,
        )
        const crashes: Array<string> = []
        const supervised = yield* superviseHello(root, port, { watch: false, onEvent: crashesOf(crashes) })
        yield* Deferred.await(supervised.ready)
        const pid = Number(yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())))
        yield* Effect.sleep("8 seconds")
        assert.deepStrictEqual(crashes, [], "a slow 503 is an answer: not restarted")

        process.kill(pid, "SIGSTOP")
        while (crashes.length === 0) yield* Effect.sleep("200 millis")
        process.kill(pid, "SIGCONT")
        assert.deepStrictEqual(crashes, ["it no longer answers its health check"])
      }),
    30_000,
  )
})
