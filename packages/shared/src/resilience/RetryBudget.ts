import { Cause, Clock, Duration, Effect, Schedule, SynchronizedRef } from "effect"
import * as TokenBucket from "./TokenBucket.ts"

/**
 * A retry budget: a token bucket that bounds how many retries a client adds on top of its own
 * traffic, so that a failing service is not buried under a retry storm. It starts full, refills
 * continuously at `refillPerSecond` (computed from the clock when used, never above
 * `capacity`, no timer), and every retry must take a token. Over any period, retries are at
 * most `capacity + refillPerSecond × seconds`.
 */
export interface RetryBudget {
  readonly capacity: number
  readonly refillPerSecond: number
  /** Takes a token if there is one. */
  readonly tryTake: Effect.Effect<boolean>
  /** Tokens available now (fractional while refilling). */
  readonly tokens: Effect.Effect<number>
}

export const make = (limits: TokenBucket.Limits) =>
  Effect.gen(function* () {
    const bucket = yield* SynchronizedRef.make(TokenBucket.full(limits, yield* Clock.currentTimeMillis))
    const withNow = <A>(f: (current: TokenBucket.Bucket, now: number) => readonly [A, TokenBucket.Bucket]) =>
      SynchronizedRef.modifyEffect(bucket, (current) => Effect.map(Clock.currentTimeMillis, (now) => f(current, now)))
    const budget: RetryBudget = {
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
  return Schedule.fromStepWithMetadata(
    Effect.succeed((metadata: Schedule.InputMetadata<E>) => {
      if (metadata.attempt > maxRetries || !options.isRetryable(metadata.input)) return Cause.done(metadata.attempt - 1)
      return Effect.flatMap(budget.tryTake, (granted) =>
        granted
          ? Effect.succeed([metadata.attempt, Duration.zero] as [number, Duration.Duration])
          : Effect.annotateCurrentSpan("retry.refused", "budget exhausted").pipe(
              Effect.andThen(Cause.done(metadata.attempt - 1)),
            ),
      )
    }),
  )
}
