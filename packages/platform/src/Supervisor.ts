import { type ChildProcess, spawn } from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Clock, Deferred, Duration, Effect, Fiber, Queue, Schema, type Scope } from "effect"
import { lines } from "./LogPrinter.ts"
import type { Spec } from "./Services.ts"
import * as Watcher from "./Watcher.ts"

export class PortTaken extends Schema.TaggedError<PortTaken>()("PortTaken", {
  name: Schema.String,
  port: Schema.Number,
}) {
  override get message() {
    return `port ${this.port} (${this.name}) is already in use`
  }
}

export class ServiceFailed extends Schema.TaggedError<ServiceFailed>()("ServiceFailed", {
  name: Schema.String,
  reason: Schema.String,
}) {
  override get message() {
    return `${this.name} failed: ${this.reason}`
  }
}

/** Whether a port is free, on all interfaces as the services bind it. */
export const checkPort = (name: string, port: number) =>
  Effect.callback<void, PortTaken>((resume) => {
    const probe = net.createServer()
    probe.once("error", (error: NodeJS.ErrnoException) =>
      resume(
        error.code === "EADDRINUSE" || error.code === "EACCES"
          ? Effect.fail(new PortTaken({ name, port }))
          : Effect.void,
      ),
    )
    probe.listen(port, () => probe.close(() => resume(Effect.void)))
  })

/**
 * Whether anything answers HTTP at `url` within `timeout`: any status is an answer (a 503 says the
 * service is alive and its database is not). Through `node:http`, which has no list of blocked
 * ports, unlike `fetch`.
 */
export const answers = (url: string, timeout: Duration.Duration) =>
  Effect.callback<number | undefined>((resume) => {
    const request = http.get(url, { timeout: Duration.toMillis(timeout) }, (response) => {
      response.resume()
      resume(Effect.succeed(response.statusCode))
    })
    request.on("timeout", () => request.destroy())
    request.on("error", () => resume(Effect.succeed(undefined)))
    return Effect.sync(() => request.destroy())
  })

/** How long a service may take to drain after SIGTERM before it is killed. */
const STOP_TIMEOUT = Duration.seconds(20)
/**
 * A live service is probed this often; two probes without an answer mean it stopped answering.
 * Any answer counts, a 503 too: a service whose database is away is alive, and restarting it
 * would turn a database outage into a platform outage. The timeout outlasts the 2 s a health
 * check may spend on its database (`SELECT 1` against a frozen server), with room to answer.
 */
const PROBE_EVERY = Duration.millis(500)
const PROBE_TIMEOUT = Duration.seconds(3)
/** Restarts allowed within a minute before the platform gives up. */
const MAX_RESTARTS_PER_MINUTE = 5
const LAST_LINES = 15
const PARENT_GUARD = fileURLToPath(new URL("./ParentGuard.ts", import.meta.url))

/** What happens to a supervised service, for the runner to say (and to print its readiness again). */
export type Event =
  | { readonly _tag: "Ready"; readonly name: string; readonly restarts: number }
  | {
      readonly _tag: "Crashed"
      readonly name: string
      readonly reason: string
      readonly lastLines: ReadonlyArray<string>
    }
  | { readonly _tag: "Changed"; readonly name: string; readonly files: ReadonlyArray<string> }

export interface Options {
  readonly root: string
  readonly port: number
  readonly env: Record<string, string>
  /** `./platform dev`: restart on every change to the service's sources or its packages'. */
  readonly watch: boolean
  /** Where the service's output goes, line by line. */
  readonly print: (line: string) => void
  readonly onEvent: (event: Event) => Effect.Effect<void>
  /** How long the first start may take before the platform gives up on it. */
  readonly readyTimeout: Duration.Duration
  /** True once the platform itself is stopping: a service that exits then is not restarted. */
  readonly stopping?: (() => boolean) | undefined
}

export interface Supervised {
  readonly spec: Spec
  /** Done once the service first answers its health check, or failed if it never did. */
  readonly ready: Deferred.Deferred<void, ServiceFailed>
  /** Failed when the service cannot be kept running (too many restarts). */
  readonly failed: Deferred.Deferred<never, ServiceFailed>
  /** The process running now, for a test to kill. */
  readonly pid: () => number | undefined
}

/** Why the running process is being replaced. */
type Stop =
  | { readonly _tag: "Exited"; readonly reason: string }
  | { readonly _tag: "Changed"; readonly files: ReadonlyArray<string> }

/**
 * One service as a process of its own (`node src/main.ts`), supervised for the enclosing scope:
 * its output printed; once it answers its health check it is probed, and when it exits or stops
 * answering it is reported by name with its last lines and started again, after a backoff, at
 * most 5 times a minute (then `failed`). With `watch`, a change to its sources restarts it.
 * SIGTERM (its graceful drain) when the scope closes.
 */
export const supervise = (spec: Spec, options: Options): Effect.Effect<Supervised, never, Scope.Scope> =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<void, ServiceFailed>()
    const failed = yield* Deferred.make<never, ServiceFailed>()
    const changes = yield* Queue.unbounded<ReadonlyArray<string>>()
    const url = `http://127.0.0.1:${options.port}${spec.health}`
    let current: ChildProcess | undefined
    const lastLines: Array<string> = []

    if (options.watch) {
      yield* Watcher.watch(options.root, Watcher.foldersOf(options.root, spec.dir), (files) =>
        Queue.offerUnsafe(changes, files),
      )
    }

    const launch = Effect.sync(() => {
      lastLines.length = 0
      const child = spawn(process.execPath, ["--import", PARENT_GUARD, "src/main.ts"], {
        cwd: path.join(options.root, spec.dir),
        // Each its own OTEL_SERVICE_NAME: one set in the shell would name them all alike.
        env: { ...process.env, ...options.env, PORT: String(options.port), OTEL_SERVICE_NAME: spec.telemetryName },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      })
      const onLine = (line: string) => {
        options.print(line)
        lastLines.push(line)
        if (lastLines.length > LAST_LINES) lastLines.shift()
      }
      child.stdout?.on("data", lines(onLine))
      child.stderr?.on("data", lines(onLine))
      current = child
      return child
    })

    const exited = (child: ChildProcess) =>
      Effect.callback<string>((resume) => {
        const done = (code: number | null, signal: NodeJS.Signals | null) =>
          resume(Effect.succeed(signal === null ? `it exited with code ${code}` : `it was killed (${signal})`))
        if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode, child.signalCode)
        child.once("exit", done)
        child.once("error", (error) => resume(Effect.succeed(error.message)))
      })

    const stopChild = (child: ChildProcess) =>
      Effect.gen(function* () {
        if (child.exitCode !== null || child.signalCode !== null) return
        child.kill("SIGTERM")
        const stopped = yield* exited(child).pipe(Effect.timeoutOption(STOP_TIMEOUT))
        if (stopped._tag === "None") {
          yield* Effect.logWarning(`${spec.name} did not stop within ${Duration.format(STOP_TIMEOUT)}: killed`)
          child.kill("SIGKILL")
          yield* exited(child)
        }
      })

    /** Until the service answers; `undefined` when it did, the reason when it exited first. */
    const untilAnswering = (child: ChildProcess) =>
      Effect.raceFirst(
        Effect.gen(function* () {
          while ((yield* answers(url, PROBE_TIMEOUT)) === undefined) yield* Effect.sleep("150 millis")
          return undefined
        }),
        exited(child),
      )

    /** While it answers; the reason it stopped (exited, or two probes without an answer). */
    const whileAnswering = (child: ChildProcess) =>
      Effect.raceFirst(
        Effect.gen(function* () {
          let misses = 0
          while (misses < 2) {
            yield* Effect.sleep(PROBE_EVERY)
            misses = (yield* answers(url, PROBE_TIMEOUT)) === undefined ? misses + 1 : 0
          }
          return "it no longer answers its health check"
        }),
        exited(child),
      )

    const restarts: Array<number> = []
    const loop = Effect.gen(function* () {
      let first = true
      while (true) {
        const child = yield* launch
        const started = yield* untilAnswering(child).pipe(
          first ? Effect.timeoutOption(options.readyTimeout) : Effect.asSome,
        )
        let stop: Stop
        const failure =
          started._tag === "None" ? `not ready after ${Duration.format(options.readyTimeout)}` : started.value
        if (failure !== undefined) {
          const reason = failure
          if (first) {
            const error = lastLines.findLast((line) => /"level":"(fatal|error)"/.test(line))
            const said = error === undefined ? undefined : (JSON.parse(error) as { message?: string }).message
            yield* stopChild(child)
            return yield* new ServiceFailed({
              name: spec.name,
              reason: said ?? `${reason} before it was ready`,
            })
          }
          stop = { _tag: "Exited", reason }
        } else {
          if (first) yield* Deferred.succeed(ready, undefined)
          else yield* options.onEvent({ _tag: "Ready", name: spec.name, restarts: restarts.length })
          first = false
          stop = yield* Effect.raceFirst(
            Effect.map(whileAnswering(child), (reason): Stop => ({ _tag: "Exited", reason })),
            Effect.map(Queue.take(changes), (files): Stop => ({ _tag: "Changed", files })),
          )
        }
        // Stopping with the platform (Ctrl-C reaches every process of the terminal): wait for the end.
        if (options.stopping?.()) return yield* Effect.never
        if (stop._tag === "Changed") {
          yield* options.onEvent({ _tag: "Changed", name: spec.name, files: stop.files })
          yield* stopChild(child)
          continue
        }
        yield* options.onEvent({ _tag: "Crashed", name: spec.name, reason: stop.reason, lastLines: [...lastLines] })
        yield* stopChild(child)
        const now = yield* Clock.currentTimeMillis
        while (restarts.length > 0 && (restarts[0] as number) <= now - 60_000) restarts.shift()
        if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
          return yield* new ServiceFailed({
            name: spec.name,
            reason: `${stop.reason}, and it was restarted ${MAX_RESTARTS_PER_MINUTE} times within a minute`,
          })
        }
        restarts.push(now)
        // 250 ms, then twice as long each time it crashes again within the minute (at most 4 s).
        yield* Effect.sleep(Duration.millis(Math.min(4000, 250 * 2 ** (restarts.length - 1))))
      }
    })

    const fiber = yield* loop.pipe(
      Effect.catch((error) => Effect.andThen(Deferred.fail(ready, error), Deferred.fail(failed, error))),
      Effect.forkScoped,
    )
    yield* Effect.addFinalizer(() =>
      Effect.andThen(Fiber.interrupt(fiber), current === undefined ? Effect.void : stopChild(current)),
    )
    return { spec, ready, failed, pid: () => current?.pid } satisfies Supervised
  })
