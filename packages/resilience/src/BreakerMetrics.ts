import { Effect, Metric, type Scope } from "effect"
import type { CircuitBreaker, State } from "./CircuitBreaker.ts"
import * as SpanEvent from "./internal/SpanEvent.ts"

/**
 * A circuit breaker as Prometheus, the log and the trace see it, labelled with its name:
 * `circuit_breaker_state` (0 closed, 1 half-open, 2 open), every transition in
 * `circuit_breaker_transitions_total` and a log line, every rejection in
 * `circuit_breaker_rejections_total` and as an event `breaker.rejected` on the caller's span.
 * Since time alone moves an open breaker to half-open, read `breaker.state` before a scrape.
 */

/** The gauge's encoding of a state: how bad it is. */
export const stateValue: Record<State, number> = { closed: 0, "half-open": 1, open: 2 }

/** Every change of state the machine can make. */
const possibleTransitions: ReadonlyArray<readonly [State, State]> = [
  ["closed", "open"],
  ["open", "half-open"],
  ["half-open", "open"],
  ["half-open", "closed"],
]

export const state = Metric.gauge("circuit_breaker_state", {
  description: "The circuit breaker's state: 0 closed, 1 half-open, 2 open",
})

export const transitions = Metric.counter("circuit_breaker_transitions_total", {
  description: "Changes of a circuit breaker's state, by breaker, from and to",
  incremental: true,
})

export const rejections = Metric.counter("circuit_breaker_rejections_total", {
  description: "Calls a circuit breaker failed at once, by breaker and reason (open, too many requests)",
  incremental: true,
})

/** Rejection reasons as the metric and the span event name them. */
const reasonLabel = { Open: "open", TooManyRequests: "too-many-requests" } as const

/** Publishes `breaker` for as long as the calling scope is open. */
export const observe = <E>(breaker: CircuitBreaker<E>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const breakerLabel = { breaker: breaker.name }
    const gauge = Metric.withAttributes(state, breakerLabel)
    const transition = new Map(
      possibleTransitions.map(([from, to]) => [
        `${from}->${to}`,
        Metric.withAttributes(transitions, { ...breakerLabel, from, to }),
      ]),
    )
    const rejected = {
      Open: Metric.withAttributes(rejections, { ...breakerLabel, reason: reasonLabel.Open }),
      TooManyRequests: Metric.withAttributes(rejections, { ...breakerLabel, reason: reasonLabel.TooManyRequests }),
    }
    // Exported from the start, at zero: `increase()` cannot see a counter's first increment.
    yield* Effect.forEach([...transition.values(), ...Object.values(rejected)], (series) => Metric.update(series, 0), {
      discard: true,
    })
    yield* Metric.update(gauge, stateValue[yield* breaker.state])
    yield* breaker.observe({
      onChange: (change) =>
        Effect.all(
          [
            Effect.logInfo(`circuit breaker ${change.name}: ${change.from} -> ${change.to}`).pipe(
              Effect.annotateLogs({ breaker: change.name, from: change.from, to: change.to }),
            ),
            Metric.update(transition.get(`${change.from}->${change.to}`) ?? transitions, 1),
            Metric.update(gauge, stateValue[change.to]),
          ],
          { discard: true },
        ),
      onRejection: (rejection) =>
        Effect.andThen(
          SpanEvent.add("breaker.rejected", {
            "breaker.name": rejection.breaker,
            reason: reasonLabel[rejection.reason._tag],
          }),
          Metric.update(rejected[rejection.reason._tag], 1),
        ),
    })
  })
