import { Cause, Clock, Duration, Effect, Metric, Schedule, SynchronizedRef } from "effect"
import * as SpanEvent from "../SpanEvent.ts"
import * as TokenBucket from "./TokenBucket.ts"

/**
 * A retry budget: a token bucket that bounds how many retries a client adds on top of its own
 * traffic, so that a failing service is not buried under a retry storm. It starts full, refills
 * continuously at `refillPerSecond` (computed from the clock when used, never above
 * `capacity`, no timer), and every retry must take a token. Over any period, retries are at
 * most `capacity + refillPerSecond × seconds`.
 *
 * Observable, labelled with the budget's name: `retry_budget_tokens` (as of the last use or
 * `tokens` read), and through `retrySchedule` the retries it granted and refused
 * (`retry_budget_retries_total`, `retry_budget_refused_total`), each also an event on the
 * caller's span.
 */
export interface RetryBudget {
  readonly name: string
  readonly capacity: number
  readonly refillPerSecond: number
  /** Takes a token if there is one. */
  readonly tryTake: Effect.Effect<boolean>
  /** Tokens available now (fractional while refilling). */
  readonly tokens: Effect.Effect<number>
}

export const tokensGauge = Metric.gauge("retry_budget_tokens", {
  description: "Tokens left in a retry budget (each retry takes one)",
})

export const retries = Metric.counter("retry_budget_retries_total", {
  description: "Retries a retry budget granted",
  incremental: true,
})

export const refused = Metric.counter("retry_budget_refused_total", {
  description: "Retries a retry budget refused because it was empty",
  incremental: true,
})

export const make = (limits: TokenBucket.Limits & { readonly name?: string | undefined }) =>
  Effect.gen(function* () {
    const name = limits.name ?? "retry"
    const gauge = Metric.withAttributes(tokensGauge, { budget: name })
    const bucket = yield* SynchronizedRef.make(TokenBucket.full(limits, yield* Clock.currentTimeMillis))
    yield* Metric.update(gauge, limits.capacity)
    // Exported from the start, at zero: `increase()` cannot see a counter's first increment.
    yield* Metric.update(Metric.withAttributes(retries, { budget: name }), 0)
    yield* Metric.update(Metric.withAttributes(refused, { budget: name }), 0)
    const withNow = <A>(f: (current: TokenBucket.Bucket, now: number) => readonly [A, TokenBucket.Bucket]) =>
      SynchronizedRef.modifyEffect(bucket, (current) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const [result, next] = f(current, now)
          return Effect.as(Metric.update(gauge, next.tokens), [result, next] as const)
        }),
      )
    const budget: RetryBudget = {
      name,
      capacity: limits.capacity,
      refillPerSecond: limits.refillPerSecond,
      tryTake: withNow((current, now) => TokenBucket.take(limits, current, now)),
      tokens: withNow((current, now) => {
        const next = TokenBucket.refill(limits, current, now)
        return [next.tokens, next]
      }),
    }
    return budget
  })

/**
 * The retry policy as a `Schedule` for `Effect.retry`: after a failure, retry (at once) only
 * when `isRetryable` accepts it, fewer than `maxRetries` retries were made, and the budget
 * gives a token. Its output is the number of retries made.
 */
export const retrySchedule = <E>(
  budget: RetryBudget,
  options: { readonly isRetryable: (error: E) => boolean; readonly maxRetries?: number | undefined },
): Schedule.Schedule<number, E> => {
  const maxRetries = options.maxRetries ?? 1
  const granted = Metric.withAttributes(retries, { budget: budget.name })
  const denied = Metric.withAttributes(refused, { budget: budget.name })
  return Schedule.fromStepWithMetadata(
    Effect.succeed((metadata: Schedule.InputMetadata<E>) => {
      if (metadata.attempt > maxRetries || !options.isRetryable(metadata.input)) return Cause.done(metadata.attempt - 1)
      return Effect.flatMap(budget.tryTake, (taken) =>
        taken
          ? Metric.update(granted, 1).pipe(
              Effect.andThen(
                SpanEvent.add("retry", { "retry.attempt": metadata.attempt, "retry.budget": budget.name }),
              ),
              Effect.as([metadata.attempt, Duration.zero] as [number, Duration.Duration]),
            )
          : Metric.update(denied, 1).pipe(
              Effect.andThen(
                SpanEvent.add("retry.refused", { reason: "budget exhausted", "retry.budget": budget.name }),
              ),
              Effect.andThen(Cause.done(metadata.attempt - 1)),
            ),
      )
    }),
  )
}
