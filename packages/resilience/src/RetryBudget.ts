import { Clock, Effect, Schedule, type Scope, SynchronizedRef } from "effect"
import * as Observers from "./internal/Observers.ts"
import * as RetryWindow from "./RetryWindow.ts"
import * as TokenBucket from "./TokenBucket.ts"

/**
 * A retry budget bounds how many retries a client adds on top of its own traffic, so that a
 * failing service is not buried under a retry storm. Two kinds, chosen per budget:
 *
 * - `bucket` (`make`): a token bucket. It starts full, refills continuously at
 *   `refillPerSecond` (computed from the clock when used, never above `capacity`, no timer), and
 *   every retry must take a token. Over any period, retries are at most
 *   `capacity + refillPerSecond × seconds`, however much traffic there is.
 * - `ratio` (`makeRatio`): the service meshes' budget (Linkerd, Finagle). Each request is
 *   `deposit`ed; retries in the last window stay within `ratio` of its requests plus
 *   `minPerSecond × window`, so retries grow with traffic but never beyond a fixed share of it.
 *
 * A budget gates any retry `Schedule` (`RetryBudget.gate(budget)(schedule)`), so backoff,
 * jitter and the policy's own limits compose with it. It records nothing itself: metrics and
 * span events are observers (`BudgetMetrics.observe`).
 */
export interface RetryBudget {
  readonly name: string
  readonly policy: Policy
  /** bucket: its capacity; ratio: the retries an empty window allows (`minPerSecond × window`). */
  readonly capacity: number
  /** bucket: its refill rate; ratio: `minPerSecond`. */
  readonly refillPerSecond: number
  /** Counts one request (not a retry): what a `ratio` budget grows with; nothing for a bucket. */
  readonly deposit: Effect.Effect<void>
  /** Takes a token if there is one. */
  readonly tryTake: Effect.Effect<boolean>
  /** Takes a token for retry number `attempt`, telling the observers whether it got one. */
  readonly takeForRetry: (attempt: number) => Effect.Effect<boolean>
  /** Retries available now (fractional while refilling, or a share of a request). */
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

/** Which kind of budget, with its limits. */
export type Policy =
  | ({ readonly mode: "bucket" } & TokenBucket.Limits)
  | ({ readonly mode: "ratio" } & RetryWindow.Limits)

/** The pure state machine behind a budget: its state, and what a take, a deposit and a read do to it. */
interface Ledger<S> {
  readonly initial: (now: number) => S
  readonly take: (state: S, now: number) => readonly [boolean, S]
  readonly deposit: ((state: S, now: number) => S) | undefined
  readonly available: (state: S, now: number) => readonly [number, S]
}

const fromLedger = <S>(
  name: string,
  policy: Policy,
  shape: { readonly capacity: number; readonly refillPerSecond: number },
  ledger: Ledger<S>,
): Effect.Effect<RetryBudget> =>
  Effect.gen(function* () {
    const state = yield* SynchronizedRef.make(ledger.initial(yield* Clock.currentTimeMillis))
    const { add, tell } = Observers.make<Observer>()
    const withNow = <A>(
      f: (current: S, now: number) => readonly [A, S],
      tokens: (result: A, next: S, now: number) => number,
    ) =>
      SynchronizedRef.modifyEffect(state, (current) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const [result, next] = f(current, now)
          return Effect.as(
            tell((observer) => observer.onTokens?.(tokens(result, next, now))),
            [result, next] as const,
          )
        }),
      )
    const left = (_: unknown, next: S, now: number) => ledger.available(next, now)[0]
    const tryTake = withNow(ledger.take, left)
    const deposit = ledger.deposit
    return {
      name,
      policy,
      ...shape,
      deposit:
        deposit === undefined
          ? Effect.void
          : SynchronizedRef.updateEffect(state, (current) =>
              Effect.map(Clock.currentTimeMillis, (now) => deposit(current, now)),
            ),
      tryTake,
      takeForRetry: (attempt) =>
        Effect.tap(tryTake, (taken) =>
          tell((observer) => (taken ? observer.onGranted?.(attempt) : observer.onRefused?.(attempt))),
        ),
      tokens: withNow(ledger.available, (tokens) => tokens),
      observe: add,
    } satisfies RetryBudget
  })

/** A `bucket` budget: at most `capacity + refillPerSecond × seconds` retries over any period. */
export const make = (limits: TokenBucket.Limits & { readonly name?: string | undefined }): Effect.Effect<RetryBudget> =>
  fromLedger(
    limits.name ?? "retry",
    { mode: "bucket", capacity: limits.capacity, refillPerSecond: limits.refillPerSecond },
    { capacity: limits.capacity, refillPerSecond: limits.refillPerSecond },
    {
      initial: (now) => TokenBucket.full(limits, now),
      take: (bucket, now) => TokenBucket.take(limits, bucket, now),
      deposit: undefined,
      available: (bucket, now) => {
        const next = TokenBucket.refill(limits, bucket, now)
        return [next.tokens, next]
      },
    },
  )

/**
 * A `ratio` budget: in the last `windowMs`, retries stay within `ratio × requests +
 * minPerSecond × window` (Linkerd's defaults: 0.2, 10/s, 10 s). Requests must be `deposit`ed.
 */
export const makeRatio = (
  limits: RetryWindow.Limits & { readonly name?: string | undefined },
): Effect.Effect<RetryBudget> =>
  fromLedger(
    limits.name ?? "retry",
    {
      mode: "ratio",
      ratio: limits.ratio,
      minPerSecond: limits.minPerSecond,
      windowMs: limits.windowMs,
      slices: limits.slices,
    },
    { capacity: RetryWindow.reserve(limits), refillPerSecond: limits.minPerSecond },
    {
      initial: (now) => RetryWindow.empty(limits, now),
      take: (window, now) => RetryWindow.take(limits, window, now),
      deposit: (window, now) => RetryWindow.deposit(limits, window, now),
      available: (window, now) => RetryWindow.available(limits, window, now),
    },
  )

/** A budget of either kind, from its policy. */
export const fromPolicy = (policy: Policy, name?: string): Effect.Effect<RetryBudget> =>
  policy.mode === "bucket" ? make({ ...policy, name }) : makeRatio({ ...policy, name })

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
