import cluster from "node:cluster"
import * as net from "node:net"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Config, Effect, Exit, Layer, Option } from "effect"
import { HttpServerError } from "effect/http"
import * as Logging from "./Logging.ts"
import * as Metrics from "./Metrics.ts"
import { type Defaults, describeError, ServiceConfig } from "./ServiceConfig.ts"
import * as Telemetry from "./Telemetry.ts"
import * as Workers from "./Workers.ts"

/**
 * The first line a person needs when start-up fails: which variable, which server, which port,
 * or the failure's own message. Only a defect (a bug) gets its stack.
 */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isNone(failure)) return Cause.pretty(cause)
  const error = failure.value
  if (error instanceof Config.ConfigError) return `invalid configuration: ${describeError(error)}`
  if (error instanceof HttpServerError.ServeError) {
    const reason: unknown = error.cause
    return `cannot start the HTTP server: ${reason instanceof Error ? reason.message : String(reason)}`
  }
  if (error instanceof Error && error.message !== "") return error.message
  return Cause.pretty(cause)
}

/** The port is free to listen on, or the start-up failure a taken one makes later. */
const portFree = Effect.gen(function* () {
  const config = yield* ServiceConfig
  const host = Option.getOrUndefined(config.host)
  yield* Effect.callback<void, HttpServerError.ServeError>((resume) => {
    const probe = net.createServer()
    probe.once("error", (cause) => resume(Effect.fail(new HttpServerError.ServeError({ cause }))))
    probe.listen({ port: config.port, host, exclusive: true }, () => probe.close(() => resume(Effect.void)))
  })
})

/**
 * Runs a service until SIGTERM or SIGINT. The kernel provides what every service shares
 * (configuration, JSON logging, its metrics registry, tracing) around the service's own layer. A start-up failure
 * is one log line and exit code 1; a signal drains the service and exits 0.
 */
export const run = <E>(defaults: Defaults, app: Layer.Layer<never, E, ServiceConfig | Metrics.ScrapeHooks>): void => {
  const serve = Effect.scoped(
    Effect.gen(function* () {
      const config = yield* ServiceConfig
      if (config.workers > 1 && cluster.isPrimary) {
        yield* portFree
        yield* Effect.logInfo(`starting ${config.workers} workers`)
        const broken = yield* Workers.primary({ count: config.workers, drainTimeout: config.shutdownTimeout })
        yield* Effect.addFinalizer(() => Effect.logInfo("shutting down: draining every worker"))
        yield* Effect.logInfo(`ready: ${config.workers} workers on port ${config.port}`)
        return yield* broken
      }
      // Before the database and its migrations: a port in use is said at once, not after them.
      // (A worker listens on its primary's socket.)
      if (Workers.identity === undefined) yield* portFree
      yield* Layer.build(app)
      yield* Workers.answerScrapes(Metrics.scrape)
      // Added last, so it runs first: the line marks the start of the drain, not its end.
      yield* Effect.addFinalizer(() => Effect.logInfo("shutting down: draining in-flight work"))
      yield* Effect.logInfo("ready")
      return yield* Effect.never
    }),
  )
  const program = serve.pipe(
    Effect.onInterrupt(() => Effect.logInfo("stopped")),
    Effect.provide(Telemetry.layer),
    Effect.provide(Metrics.layer),
    Effect.provide(Logging.layer),
    Effect.provide(ServiceConfig.layer(defaults)),
    Effect.tapCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.logFatal(describeFailure(cause)).pipe(Effect.provide(Logging.bootstrap(defaults.name))),
    ),
  )
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1),
  })
}

/**
 * Runs a one-off command (a migration, a key rotation) with the service's configuration and
 * logging: exit 0 when it succeeds, one log line and exit 1 when it fails.
 */
export const runTask = <A, E>(defaults: Defaults, task: Effect.Effect<A, E, ServiceConfig>): void => {
  const program = task.pipe(
    Effect.provide(Logging.layer),
    Effect.provide(ServiceConfig.layer(defaults)),
    Effect.tapCause((cause) =>
      Effect.logFatal(describeFailure(cause)).pipe(Effect.provide(Logging.bootstrap(defaults.name))),
    ),
  )
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? 0 : 1),
  })
}
