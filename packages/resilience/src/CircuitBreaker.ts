import {
  Cause,
  Clock,
  Duration,
  Effect,
  Exit,
  Option,
  PubSub,
  Schema,
  type Scope,
  Stream,
  SynchronizedRef,
} from "effect"
import { dual } from "effect/Function"
import * as Machine from "./internal/BreakerMachine.ts"
import * as Observers from "./internal/Observers.ts"
import { withoutStack } from "./internal/withoutStack.ts"

/**
 * A circuit breaker with the semantics of sony/gobreaker (v2), for any Effect.
 *
 * Closed: calls go through; the counts are cleared every `interval`; when `readyToTrip(counts)`
 * says so after a failure, it opens. Open: calls fail at once with `BreakerRejected` (reason
 * `Open`, with the time left) until `timeout` has passed, then it is half-open. Half-open: at
 * most `maxRequests` calls go through, further ones fail at once (reason `TooManyRequests`);
 * one failure re-opens it, `maxRequests` consecutive successes close it. Every change of state
 * starts a new generation and clears the counts; a call that started in an older generation
 * does not count. An interrupted call counts as a success (a cancelled call says nothing about
 * the service behind the breaker); a defect counts as a failure.
 *
 * Time is Effect's `Clock` (so `TestClock` drives it) and transitions are computed when the
 * breaker is used: no timer runs in the background. The state is held in a `SynchronizedRef`,
 * so concurrent calls see the transitions in one order, as gobreaker's mutex gives.
 *
 * The breaker records nothing itself: metrics, logs and span events are observers
 * (`BreakerMetrics.observe`), and `changes` streams the transitions for as long as the scope the
 * breaker was made in is open.
 *
 * Why not `effect/persistence/CircuitBreaker` (Effect 4.1): its half-open state admits one probe,
 * it has no closed-state counting window, and an interrupted probe is ignored rather than a
 * success. The contract is gobreaker's (MaxRequests 3 in half-open, Interval 10 s), which a
 * model-based test checks this breaker against; a store shared across processes is the one
 * thing Effect's has that this does not need (one breaker per gateway process, as the original).
 */

export type State = "closed" | "half-open" | "open"

export interface Counts {
  readonly requests: number
  readonly totalSuccesses: number
  readonly totalFailures: number
  readonly consecutiveSuccesses: number
  readonly consecutiveFailures: number
}

export interface StateChange {
  readonly name: string
  readonly from: State
  readonly to: State
  /** Epoch milliseconds of the change. */
  readonly at: number
}

export interface Options<E> {
  readonly name: string
  /** Calls let through while half-open, and consecutive successes that close it (gobreaker: 1 when 0). */
  readonly maxRequests?: number | undefined
  /** gobreaker's `Interval`: while closed, the counts are cleared this often; zero never clears them. */
  readonly interval?: Duration.Input | undefined
  /** gobreaker's `Timeout`: how long it stays open before letting calls probe (60 s when zero). */
  readonly timeout?: Duration.Input | undefined
  /** Whether to open after a failure (gobreaker: more than 5 consecutive failures). */
  readonly readyToTrip?: ((counts: Counts) => boolean) | undefined
  /** Whether a typed failure of the call still counts as a success (gobreaker: none does). */
  readonly isSuccessful?: ((error: E) => boolean) | undefined
}

/** Rejected because the breaker is open; `retryAfter` is the time until it lets calls probe. */
export class Open extends Schema.TaggedClass<Open>()("Open", { retryAfter: Schema.DurationFromMillis }) {}

/** Rejected because the half-open breaker already lets `maxRequests` calls through. */
export class TooManyRequests extends Schema.TaggedClass<TooManyRequests>()("TooManyRequests", {}) {}

export const RejectionReason = Schema.Union([Open, TooManyRequests])
export type RejectionReason = typeof RejectionReason.Type

/** A call the breaker failed at once, without running it. Messages as gobreaker's errors. */
export class BreakerRejected extends Schema.TaggedError<BreakerRejected>()("BreakerRejected", {
  breaker: Schema.String,
  reason: RejectionReason,
}) {
  override get message() {
    return this.reason._tag === "Open" ? "circuit breaker is open" : "too many requests"
  }
}

/** What an observer is told, in the fiber of the call that caused it (so in its span). */
export interface Observer {
  readonly onChange?: ((change: StateChange) => Effect.Effect<void>) | undefined
  readonly onRejection?: ((rejection: BreakerRejected) => Effect.Effect<void>) | undefined
}

export interface CircuitBreaker<E> {
  readonly name: string
  /** Runs `effect` through the breaker, or fails at once with `BreakerRejected`. */
  readonly execute: <A, E2 extends E, R>(effect: Effect.Effect<A, E2, R>) => Effect.Effect<A, E2 | BreakerRejected, R>
  /** The state now (an open breaker whose timeout has passed reads half-open). */
  readonly state: Effect.Effect<State>
  readonly counts: Effect.Effect<Counts>
  /** While open, how long until it lets probes through (half-open); `None` in any other state. */
  readonly retryAfter: Effect.Effect<Option.Option<Duration.Duration>>
  /** Every change of state from now on, until the breaker's scope closes. */
  readonly changes: Stream.Stream<StateChange>
  /** Tells `observer` of every change and rejection while the calling scope is open. */
  readonly observe: (observer: Observer) => Effect.Effect<void, never, Scope.Scope>
}

const settingsOf = <E>(options: Options<E>): Machine.Settings => {
  const interval = options.interval === undefined ? 0 : Duration.toMillis(Duration.fromInputUnsafe(options.interval))
  const timeout = options.timeout === undefined ? 0 : Duration.toMillis(Duration.fromInputUnsafe(options.timeout))
  return {
    name: options.name,
    maxRequests: options.maxRequests === undefined || options.maxRequests === 0 ? 1 : options.maxRequests,
    interval: Math.max(0, interval),
    timeout: timeout <= 0 ? 60_000 : timeout,
    readyToTrip: options.readyToTrip ?? ((counts) => counts.consecutiveFailures > 5),
  }
}

export const make = <E = never>(options: Options<E>): Effect.Effect<CircuitBreaker<E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const settings = settingsOf(options)
    const isSuccessful = options.isSuccessful ?? (() => false)
    const start = yield* Clock.currentTimeMillis
    const machine = yield* SynchronizedRef.make<Machine.Machine>(
      Machine.toNewGeneration(
        settings,
        { state: "closed", generation: 0, counts: Machine.zeroCounts, expiry: undefined },
        start,
      ),
    )
    const observers = Observers.make<Observer>()
    const changes = yield* PubSub.unbounded<StateChange>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(changes))
    // Made once: the rejection is the fast path, and an error's stack costs more than the rest of it.
    const tooManyRequests = withoutStack(
      () => new BreakerRejected({ breaker: settings.name, reason: new TooManyRequests() }),
    )

    const announce = (change: StateChange) =>
      Effect.andThen(
        PubSub.publish(changes, change),
        observers.tell((observer) => observer.onChange?.(change)),
      )

    /** One step of the machine at the clock's now, under the ref's lock; changes announced in order. */
    const step = <A>(f: (current: Machine.Machine, now: number) => Machine.Step<A>) =>
      SynchronizedRef.modifyEffect(machine, (current) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const [result, next, happened] = f(current, now)
          const answer = [[result, next.expiry === undefined ? 0 : next.expiry - now], next] as const
          return happened.length === 0
            ? Effect.succeed(answer)
            : Effect.as(Effect.forEach(happened, announce, { discard: true }), answer)
        }),
      )

    const reject = (admission: Machine.Admission & { readonly _tag: "Rejected" }, expiresIn: number) => {
      const rejection =
        admission.reason === "open"
          ? withoutStack(
              () =>
                new BreakerRejected({
                  breaker: settings.name,
                  reason: new Open({ retryAfter: Duration.millis(Math.max(0, expiresIn)) }),
                }),
            )
          : tooManyRequests
      return Effect.andThen(
        observers.tell((observer) => observer.onRejection?.(rejection)),
        Effect.fail(rejection),
      )
    }

    const execute = <A, E2 extends E, R>(effect: Effect.Effect<A, E2, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          step((current, now) => Machine.beforeRequest(settings, current, now)),
          ([admission, expiresIn]): Effect.Effect<A, E2 | BreakerRejected, R> =>
            admission._tag === "Rejected"
              ? reject(admission, expiresIn)
              : Effect.flatMap(Effect.exit(restore(effect)), (exit) =>
                  Effect.andThen(
                    step((current, now) =>
                      Machine.afterRequest(settings, current, now, admission.generation, succeeded(exit, isSuccessful)),
                    ),
                    exit,
                  ),
                ),
        ),
      )

    const observeNow = step((current, now) => Machine.currentState(settings, current, now))
    const read = <A>(f: (machine: Machine.Machine) => A) =>
      Effect.flatMap(observeNow, () => Effect.map(SynchronizedRef.get(machine), f))

    return {
      name: settings.name,
      execute,
      state: read((m) => m.state),
      counts: read((m) => m.counts),
      retryAfter: Effect.flatMap(observeNow, ([, expiresIn]) =>
        Effect.map(SynchronizedRef.get(machine), (m) =>
          m.state === "open" ? Option.some(Duration.millis(Math.max(0, expiresIn))) : Option.none(),
        ),
      ),
      changes: Stream.fromPubSub(changes),
      observe: observers.add,
    } satisfies CircuitBreaker<E>
  })

/**
 * Runs `effect` through `breaker`: `CircuitBreaker.execute(effect, breaker)`, or in a pipe,
 * `effect.pipe(CircuitBreaker.execute(breaker))`.
 */
export const execute: {
  <E>(
    breaker: CircuitBreaker<E>,
  ): <A, E2 extends E, R>(effect: Effect.Effect<A, E2, R>) => Effect.Effect<A, E2 | BreakerRejected, R>
  <A, E2 extends E, R, E>(
    effect: Effect.Effect<A, E2, R>,
    breaker: CircuitBreaker<E>,
  ): Effect.Effect<A, E2 | BreakerRejected, R>
} = dual(2, <A, E2 extends E, R, E>(effect: Effect.Effect<A, E2, R>, breaker: CircuitBreaker<E>) =>
  breaker.execute(effect),
)

/** Success, interruption and failures `isSuccessful` accepts count as successes; defects never. */
const succeeded = <A, E>(exit: Exit.Exit<A, E>, isSuccessful: (error: E) => boolean): boolean => {
  if (Exit.isSuccess(exit)) return true
  if (Cause.hasInterruptsOnly(exit.cause)) return true
  if (Cause.hasDies(exit.cause)) return false
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" && isSuccessful(error.value)
}
