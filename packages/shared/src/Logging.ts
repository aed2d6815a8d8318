import { Cause, Effect, Layer, Logger, References } from "effect"
import { ServiceConfig } from "./ServiceConfig.ts"
import * as Workers from "./Workers.ts"

/** In a worker of a service run with `WORKERS`, which one (every line says it). */
const worker = Workers.identity?.index

const writeStdout = (line: string) => {
  process.stdout.write(line)
}

/**
 * One JSON object per line on stdout: `time`, `level`, `service`, `message`, the current
 * `trace_id` / `span_id` when logging inside a span (so a line leads to its trace), the
 * fiber's log annotations, and `error` with the rendered cause when there is one.
 */
export const jsonLogger = (service: string, write: (line: string) => void = writeStdout) =>
  Logger.make<unknown, void>(({ cause, date, fiber, logLevel, message }) => {
    const entry: Record<string, unknown> = {
      time: date.toISOString(),
      level: logLevel.toLowerCase(),
      service,
      message: render(message),
    }
    if (worker !== undefined) entry.worker = worker
    const span = fiber.cache.span
    if (span !== undefined) {
      entry.trace_id = span.traceId
      entry.span_id = span.spanId
    }
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    for (const key in annotations) {
      if (!(key in entry)) entry[key] = annotations[key]
    }
    if (cause.reasons.length > 0) entry.error = Cause.pretty(cause)
    write(`${safeStringify(entry)}\n`)
  })

const render = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => (typeof part === "string" ? part : safeStringify(part))).join(" ")
}

const safeStringify = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value)
  } catch {
    return String(value)
  }
}

/** The JSON logger for this service, at the level `LOG_LEVEL` asks for, writing with `write`. */
export const layerWriting = (write: (line: string) => void) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* ServiceConfig
      return Layer.mergeAll(
        Logger.layer([jsonLogger(config.serviceName, write)]),
        Layer.succeed(References.MinimumLogLevel, config.logLevel),
      )
    }),
  )

/** The JSON logger for this service on stdout, at the level `LOG_LEVEL` asks for. */
export const layer = layerWriting(writeStdout)

/** For the few lines logged before the configuration is known (a configuration error itself). */
export const bootstrap = (service: string) => Logger.layer([jsonLogger(service)])
