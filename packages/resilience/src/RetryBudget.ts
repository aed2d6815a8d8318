import { Clock, Effect, Schedule, type Scope, SynchronizedRef } from "effect"
import * as Observers from "./internal/Observers.ts"
import * as TokenBucket from "./TokenBucket.ts"

/**
 * A retry budget: a token bucket that bounds how many retries a client adds on top of its own
 * traffic, so that a failing service is not buried under a retry storm. It starts full, refills
 * continuously at `refillPerSecond` (computed from the clock when used, never above
 * `capacity`, no timer), and every retry must take a token. Over any period, retries are at
 * most `capacity + refillPerSecond × seconds`.
 *
 * A budget gates any retry `Schedule` (`RetryBudget.gate(budget)(schedule)`), so backoff,
 * jitter and the policy's own limits compose with it. It records nothing itself: metrics and
 * span events are observers (`BudgetMetrics.observe`).
 */
export interface RetryBudget {
  readonly name: string
  readonly capacity: number
  readonly refillPerSecond: number
  /** Takes a token if there is one. */
  readonly tryTake: Effect.Effect<boolean>
  /** Takes a token for retry number `attempt`, telling the observers whether it got one. */
  readonly takeForRetry: (attempt: number) => Effect.Effect<boolean>
  /** Tokens available now (fractional while refilling). */
  readonly tokens: Effect.Effect<number>
  /** Tells `observer` of every retry granted or refused while the calling scope is open. */
  readonly observe: (observer: Observer) => Effect.Effect<void, never, Scope.Scope>
}

/** What an observer is told, in the fiber that retries (so in its span). */
export interface Observer {
  /** A token was taken for retry number `attempt`. */
  readonly onGranted?: ((attempt: number) => Effect.Effect<void>) | undefined
  /** Retry number `attempt` was refused: the bucket was empty. */
  readonly onRefused?: ((attempt: number) => Effect.Effect<void>) | undefined
  /** The tokens left, each time they are read or taken. */
  readonly onTokens?: ((tokens: number) => Effect.Effect<void>) | undefined
}

export const make = (limits: TokenBucket.Limits & { readonly name?: string | undefined }): Effect.Effect<RetryBudget> =>
  Effect.gen(function* () {
    const name = limits.name ?? "retry"
    const bucket = yield* SynchronizedRef.make(TokenBucket.full(limits, yield* Clock.currentTimeMillis))
    const { add, tell } = Observers.make<Observer>()
    const withNow = <A>(f: (current: TokenBucket.Bucket, now: number) => readonly [A, TokenBucket.Bucket]) =>
      SynchronizedRef.modifyEffect(bucket, (current) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const [result, next] = f(current, now)
          return Effect.as(
            tell((observer) => observer.onTokens?.(next.tokens)),
            [result, next] as const,
          )
        }),
      )
    const tryTake = withNow((current, now) => TokenBucket.take(limits, current, now))
    return {
      name,
      capacity: limits.capacity,
      refillPerSecond: limits.refillPerSecond,
      tryTake,
      takeForRetry: (attempt) =>
        Effect.tap(tryTake, (taken) =>
          tell((observer) => (taken ? observer.onGranted?.(attempt) : observer.onRefused?.(attempt))),
        ),
      tokens: withNow((current, now) => {
        const next = TokenBucket.refill(limits, current, now)
        return [next.tokens, next]
      }),
      observe: add,
    } satisfies RetryBudget
  })

/**
 * `schedule`, but each recurrence (each retry) must also take a token from `budget`; when the
 * bucket is empty the schedule stops there and the last failure is the answer.
 *
 * `Schedule.while` steps the inner schedule first and asks the predicate only when it would
 * recur: a token is taken only for a retry the policy itself would make (not for an error it
 * filters out, nor past its own limit), and the delay it chose (backoff, jitter) is kept.
 */
export const gate =
  (budget: RetryBudget) =>
  <Output, Input, Error, Env>(
    schedule: Schedule.Schedule<Output, Input, Error, Env>,
  ): Schedule.Schedule<Output, Input, Error, Env> =>
    Schedule.while(schedule, ({ attempt }) => budget.takeForRetry(attempt))
