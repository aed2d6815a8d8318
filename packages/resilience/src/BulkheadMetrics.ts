import { Effect, Metric, type Scope } from "effect"
import type { Bulkhead } from "./Bulkhead.ts"
import * as SpanEvent from "./internal/SpanEvent.ts"

/**
 * A bulkhead as Prometheus and the trace see it, labelled with its name: the calls running in
 * `bulkhead_in_flight`, those waiting in `bulkhead_queued`, every rejection in
 * `bulkhead_rejected_total` and as an event `bulkhead.rejected` on the caller's span.
 */

export const inFlight = Metric.gauge("bulkhead_in_flight", {
  description: "Calls running through a bulkhead",
})

export const queued = Metric.gauge("bulkhead_queued", {
  description: "Calls waiting for a place in a bulkhead",
})

export const rejected = Metric.counter("bulkhead_rejected_total", {
  description: "Calls a bulkhead refused at once because it was full",
  incremental: true,
})

/** Publishes `bulkhead` for as long as the calling scope is open. */
export const observe = (bulkhead: Bulkhead): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const label = { bulkhead: bulkhead.name }
    const running = Metric.withAttributes(inFlight, label)
    const waiting = Metric.withAttributes(queued, label)
    const refused = Metric.withAttributes(rejected, label)
    // Exported from the start, at zero: `increase()` cannot see a counter's first increment.
    yield* Metric.update(running, 0)
    yield* Metric.update(waiting, 0)
    yield* Metric.update(refused, 0)
    yield* bulkhead.observe({
      onLoad: (now, waitingNow) => Effect.andThen(Metric.update(running, now), Metric.update(waiting, waitingNow)),
      onRejection: (rejection) =>
        Effect.andThen(
          Metric.update(refused, 1),
          SpanEvent.add("bulkhead.rejected", {
            "bulkhead.name": rejection.bulkhead,
            "bulkhead.max_concurrent": rejection.maxConcurrent,
            "bulkhead.max_queued": rejection.maxQueued,
          }),
        ),
    })
  })
