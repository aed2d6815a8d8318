import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"
import { Deferred, Duration, Effect, Schema } from "effect"
import { lines, printer } from "./LogPrinter.ts"
import type { Spec } from "./Services.ts"

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

export interface Running {
  readonly spec: Spec
  readonly port: number
  readonly child: ChildProcess
  /** Resolves with the exit code when the process ends. */
  readonly exited: Deferred.Deferred<number | null>
  /** The last error or fatal line it logged, to say why it stopped. */
  readonly lastError: () => string | undefined
}

/** How long a service may take to drain after SIGTERM before it is killed. */
const STOP_TIMEOUT = Duration.seconds(20)

/**
 * Runs one service as its own Node process (`node src/main.ts`, with `--watch` in dev mode,
 * which restarts it when a file it imports changes), its output prefixed and coloured; stops it
 * with SIGTERM (its graceful drain) when the scope closes.
 */
export const run = (
  spec: Spec,
  options: {
    readonly root: string
    readonly port: number
    readonly env: Record<string, string>
    readonly watch: boolean
    readonly index: number
  },
) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const exited = yield* Deferred.make<number | null>()
      const print = printer(spec.name, options.index)
      let lastError: string | undefined
      const onLine = (line: string) => {
        print(line)
        if (line.startsWith("{")) {
          try {
            const entry = JSON.parse(line) as { level?: string; message?: string }
            if (entry.level === "fatal" || entry.level === "error") lastError = entry.message
          } catch {}
        }
      }
      const child = spawn(process.execPath, [...(options.watch ? ["--watch"] : []), "src/main.ts"], {
        cwd: path.join(options.root, spec.dir),
        // Each its own OTEL_SERVICE_NAME: one set in the shell would name them all alike.
        env: { ...process.env, ...options.env, PORT: String(options.port), OTEL_SERVICE_NAME: spec.telemetryName },
        stdio: ["ignore", "pipe", "pipe"],
      })
      child.stdout?.on("data", lines(onLine))
      child.stderr?.on("data", lines(onLine))
      child.on("exit", (code) => Deferred.doneUnsafe(exited, Effect.succeed(code)))
      child.on("error", (error) => {
        lastError = error.message
        Deferred.doneUnsafe(exited, Effect.succeed(null))
      })
      return { spec, port: options.port, child, exited, lastError: () => lastError } satisfies Running
    }),
    (running) =>
      Effect.gen(function* () {
        if (running.child.exitCode !== null) return
        running.child.kill("SIGTERM")
        const code = yield* Deferred.await(running.exited).pipe(Effect.timeoutOption(STOP_TIMEOUT))
        if (code._tag === "None") {
          yield* Effect.logWarning(`${running.spec.name} did not stop within ${Duration.format(STOP_TIMEOUT)}: killed`)
          running.child.kill("SIGKILL")
        }
      }),
  )

/** Waits until the service answers its health path; fails with its reason if it exits first. */
export const healthy = (running: Running, timeout: Duration.Duration) => {
  const url = `http://127.0.0.1:${running.port}${running.spec.health}`
  const probe = Effect.gen(function* () {
    while (true) {
      const ok = yield* Effect.promise(() =>
        fetch(url).then(
          (response) => response.ok,
          () => false,
        ),
      )
      if (ok) return
      yield* Effect.sleep("150 millis")
    }
  })
  const died = Effect.flatMap(Deferred.await(running.exited), (code) =>
    Effect.fail(
      new ServiceFailed({
        name: running.spec.name,
        reason: running.lastError() ?? `it exited with code ${code} before it was ready`,
      }),
    ),
  )
  return Effect.raceFirst(probe, died).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new ServiceFailed({ name: running.spec.name, reason: `not ready after ${Duration.format(timeout)}` }),
        ),
    }),
  )
}
