import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { Effect } from "effect"

/** A free loopback port (closed again before it is returned, so a service can take it). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

export interface Running {
  readonly child: ChildProcess
  /** Every line the process wrote to stdout so far, parsed when it is JSON. */
  readonly lines: Array<Record<string, unknown>>
  readonly stderr: () => string
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>
  /** Resolves once a log line matches, rejects if the process exits first. */
  readonly waitFor: (predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<void>
}

/** Every process a test started and did not see exit: killed when the test process exits. */
const started = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of started) child.kill("SIGKILL")
})

/**
 * Starts a TypeScript entry point with this Node (type stripping, no build), the given env, and
 * Node's own options first (`--cpu-prof`).
 */
export const start = (script: string, env: Record<string, string>, nodeArgs: ReadonlyArray<string> = []): Running => {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  const lines: Array<Record<string, unknown>> = []
  const waiters = new Set<() => void>()
  let buffered = ""
  let stderr = ""
  child.stdout?.setEncoding("utf8")
  child.stdout?.on("data", (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf("\n")
    while (newline !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ raw: line })
      }
      newline = buffered.indexOf("\n")
    }
    for (const wake of waiters) wake()
  })
  child.stderr?.setEncoding("utf8")
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk
  })
  started.add(child)
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      started.delete(child)
      resolve(code)
    }),
  )
  const waitFor = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (lines.some(predicate)) {
          cleanup()
          resolve()
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`no matching log line within ${timeoutMs} ms: ${JSON.stringify(lines)} ${stderr}`))
      }, timeoutMs)
      const onExit = () => {
        check()
        cleanup()
        reject(new Error(`the process exited first: ${JSON.stringify(lines)} ${stderr}`))
      }
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
        child.off("exit", onExit)
      }
      waiters.add(check)
      child.on("exit", onExit)
      check()
    })
  return { child, lines, stderr: () => stderr, exited, waitFor }
}

/**
 * A service's `main.ts` as a user starts it, on a free loopback port, for the enclosing scope:
 * its base URL once it logs `ready` (or fails at once if it logs `fatal`); SIGTERM and its exit
 * when the scope closes.
 */
export const service = (main: string, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const running = start(main, { PORT: String(port), LOG_LEVEL: "info", ...env })
      yield* Effect.promise(() => running.waitFor((line) => line.message === "ready" || line.level === "fatal"))
      return { running, url: `http://127.0.0.1:${port}` }
    }),
    ({ running }) =>
      Effect.promise(async () => {
        running.child.kill("SIGTERM")
        await running.exited
      }),
  ).pipe(Effect.map(({ url }) => url))
