import { Cause, Clock, Effect, Exit, Metric, Option } from "effect"
import { durationBoundaries, labelled, secondsBetween } from "./Metrics.ts"

/**
 * RPCs as Prometheus sees them, whatever carried them (Connect, gRPC, gRPC-Web, Effect RPC):
 * counted and timed by service, method and outcome. The outcome is the Connect code name
 * (`ok`, `invalid_argument`, `unavailable`...), the one vocabulary every client of ours reads;
 * a gRPC error still answers HTTP 200, so the HTTP metrics alone would not see it.
 */

export const requests = Metric.counter("rpc_server_requests_total", {
  description: "RPCs served, by system, service, method and code",
  incremental: true,
})

export const duration = Metric.histogram("rpc_server_duration_seconds", {
  description: "Time to answer an RPC, by system, service, method and code",
  boundaries: durationBoundaries,
})

const requestSeries = labelled(requests)
const durationSeries = labelled(duration)

export interface Method {
  /** `connect_rpc` or `effect_rpc`. */
  readonly system: string
  readonly service: string
  readonly method: string
}

/** Counts one finished RPC. */
export const record = (method: Method, code: string, seconds: number) => {
  const key = `${method.system} ${method.service} ${method.method} ${code}`
  const attributes = () => ({ ...method, code })
  return Effect.andThen(
    Metric.update(requestSeries(key, attributes), 1),
    Metric.update(durationSeries(key, attributes), seconds),
  )
}

/**
 * Counts and times `effect` as one RPC; `codeOf` names a failure's code. An interruption (the
 * client went away or its deadline passed) is `canceled`; a defect is `internal`.
 */
export const observe =
  <E>(method: Method, codeOf: (error: E) => string) =>
  <A, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeNanos, (start) =>
      effect.pipe(
        Effect.onExit((exit) =>
          Effect.flatMap(Clock.currentTimeNanos, (end) => {
            const seconds = secondsBetween(start, end)
            if (Exit.isSuccess(exit)) return record(method, "ok", seconds)
            const failure = Cause.findErrorOption(exit.cause)
            if (Option.isSome(failure)) return record(method, codeOf(failure.value), seconds)
            return record(method, Cause.hasInterruptsOnly(exit.cause) ? "canceled" : "internal", seconds)
          }),
        ),
      ),
    )
