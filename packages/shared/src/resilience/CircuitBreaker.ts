import { Cause, Clock, Duration, Effect, Exit, Metric, PubSub, Schema, Stream, SynchronizedRef } from "effect"
import * as SpanEvent from "../SpanEvent.ts"

/**
 * A circuit breaker with the semantics of sony/gobreaker (v2), for any Effect.
 *
 * Closed: calls go through; the counts are cleared every `interval` (never when it is zero);
 * when `readyToTrip(counts)` says so after a failure, it opens. Open: calls fail at once with
 * `BreakerOpen` until `timeout` has passed, then it is half-open. Half-open: at most
 * `maxRequests` calls go through, further ones fail at once with `BreakerTooManyRequests`; one
 * failure re-opens it, `maxRequests` consecutive successes close it. Every change of state
 * starts a new generation and clears the counts; a call that started in an older generation
 * does not count. A call that is interrupted counts as a success (a cancelled call says
 * nothing about the service behind the breaker); a defect counts as a failure.
 *
 * Time is Effect's `Clock` (so `TestClock` drives it) and transitions are computed when the
 * breaker is used: no timer runs in the background. The state is held in a `SynchronizedRef`,
 * so concurrent calls see the transitions in one order, as gobreaker's mutex gives.
 *
 * Observable: `circuit_breaker_state` (0 closed, 1 half-open, 2 open), every transition in
 * `circuit_breaker_transitions_total` and every rejection in `circuit_breaker_rejections_total`,
 * labelled with the breaker's name; a rejection is also an event on the caller's span. Since
 * time alone moves an open breaker to half-open, read `state` before publishing the gauge.
 */

export type State = "closed" | "half-open" | "open"

/** The gauge's encoding of a state: how bad it is. */
export const stateValue: Record<State, number> = { closed: 0, "half-open": 1, open: 2 }

/** Every change of state the machine can make. */
const possibleTransitions: ReadonlyArray<readonly [State, State]> = [
  ["closed", "open"],
  ["open", "half-open"],
  ["half-open", "open"],
  ["half-open", "closed"],
]

export const stateGauge = Metric.gauge("circuit_breaker_state", {
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
  /** The closed-state counting window; zero never clears the counts. */
  readonly interval?: Duration.Input | undefined
  /** How long it stays open (gobreaker: 60 s when zero). */
  readonly timeout?: Duration.Input | undefined
  /** Whether to open after a failure (gobreaker: more than 5 consecutive failures). */
  readonly readyToTrip?: ((counts: Counts) => boolean) | undefined
  /** Whether a typed failure of the call still counts as a success (gobreaker: none does). */
  readonly isSuccessful?: ((error: E) => boolean) | undefined
}

export class BreakerOpen extends Schema.TaggedError<BreakerOpen>()("BreakerOpen", { name: Schema.String }) {
  override get message() {
    return "circuit breaker is open"
  }
}

export class BreakerTooManyRequests extends Schema.TaggedError<BreakerTooManyRequests>()("BreakerTooManyRequests", {
  name: Schema.String,
}) {
  override get message() {
    return "too many requests"
  }
}

export type Rejection = BreakerOpen | BreakerTooManyRequests

export interface CircuitBreaker<E> {
  readonly name: string
  /** Runs `effect` through the breaker, or fails at once with a rejection. */
  readonly execute: <A, E2 extends E, R>(effect: Effect.Effect<A, E2, R>) => Effect.Effect<A, E2 | Rejection, R>
  /** The state now (an open breaker whose timeout has passed reads half-open). */
  readonly state: Effect.Effect<State>
  readonly counts: Effect.Effect<Counts>
  /** Every change of state from now on. */
  readonly changes: Stream.Stream<StateChange>
}

// ---------------------------------------------------------------------------------------------
// The state machine, pure: gobreaker's methods with the clock passed in.

interface Settings {
  readonly name: string
  readonly maxRequests: number
  readonly interval: number
  readonly timeout: number
  readonly readyToTrip: (counts: Counts) => boolean
}

export interface Machine {
  readonly state: State
  readonly generation: number
  readonly counts: Counts
  /** `undefined` is Go's zero time: no expiry. */
  readonly expiry: number | undefined
}

const zeroCounts: Counts = {
  requests: 0,
  totalSuccesses: 0,
  totalFailures: 0,
  consecutiveSuccesses: 0,
  consecutiveFailures: 0,
}

const onRequest = (counts: Counts): Counts => ({ ...counts, requests: counts.requests + 1 })
const onSuccess = (counts: Counts): Counts => ({
  ...counts,
  totalSuccesses: counts.totalSuccesses + 1,
  consecutiveSuccesses: counts.consecutiveSuccesses + 1,
  consecutiveFailures: 0,
})
const onFailure = (counts: Counts): Counts => ({
  ...counts,
  totalFailures: counts.totalFailures + 1,
  consecutiveFailures: counts.consecutiveFailures + 1,
  consecutiveSuccesses: 0,
})

type Step<A> = readonly [A, Machine, ReadonlyArray<StateChange>]

const toNewGeneration = (settings: Settings, machine: Machine, now: number): Machine => ({
  state: machine.state,
  generation: machine.generation + 1,
  counts: zeroCounts,
  expiry:
    machine.state === "closed"
      ? settings.interval === 0
        ? undefined
        : now + settings.interval
      : machine.state === "open"
        ? now + settings.timeout
        : undefined,
})

const setState = (settings: Settings, machine: Machine, state: State, now: number): Step<void> =>
  machine.state === state
    ? [undefined, machine, []]
    : [
        undefined,
        toNewGeneration(settings, { ...machine, state }, now),
        [{ name: settings.name, from: machine.state, to: state, at: now }],
      ]

/** Applies the transitions time alone causes (a closed window ends, an open timeout passes). */
const currentState = (settings: Settings, machine: Machine, now: number): Step<void> => {
  if (machine.state === "closed" && machine.expiry !== undefined && machine.expiry < now) {
    return [undefined, toNewGeneration(settings, machine, now), []]
  }
  if (machine.state === "open" && machine.expiry !== undefined && machine.expiry < now) {
    return setState(settings, machine, "half-open", now)
  }
  return [undefined, machine, []]
}

export type Admission =
  | { readonly _tag: "Admitted"; readonly generation: number }
  | { readonly _tag: "Rejected"; readonly reason: "open" | "too-many-requests" }

const beforeRequest = (settings: Settings, machine: Machine, now: number): Step<Admission> => {
  const [, current, changes] = currentState(settings, machine, now)
  if (current.state === "open") return [{ _tag: "Rejected", reason: "open" }, current, changes]
  if (current.state === "half-open" && current.counts.requests >= settings.maxRequests) {
    return [{ _tag: "Rejected", reason: "too-many-requests" }, current, changes]
  }
  return [
    { _tag: "Admitted", generation: current.generation },
    { ...current, counts: onRequest(current.counts) },
    changes,
  ]
}

const afterRequest = (
  settings: Settings,
  machine: Machine,
  now: number,
  before: number,
  success: boolean,
): Step<void> => {
  const [, current, changes] = currentState(settings, machine, now)
  if (current.generation !== before) return [undefined, current, changes]
  if (success) {
    const counts = onSuccess(current.counts)
    if (current.state === "half-open" && counts.consecutiveSuccesses >= settings.maxRequests) {
      const [, closed, more] = setState(settings, { ...current, counts }, "closed", now)
      return [undefined, closed, [...changes, ...more]]
    }
    return [undefined, current.state === "open" ? current : { ...current, counts }, changes]
  }
  if (current.state === "closed") {
    const counts = onFailure(current.counts)
    if (settings.readyToTrip(counts)) {
      const [, opened, more] = setState(settings, { ...current, counts }, "open", now)
      return [undefined, opened, [...changes, ...more]]
    }
    return [undefined, { ...current, counts }, changes]
  }
  if (current.state === "half-open") {
    const [, opened, more] = setState(settings, current, "open", now)
    return [undefined, opened, [...changes, ...more]]
  }
  return [undefined, current, changes]
}

// ---------------------------------------------------------------------------------------------

const settingsOf = <E>(options: Options<E>): Settings => {
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

export const make = <E = never>(options: Options<E>): Effect.Effect<CircuitBreaker<E>> =>
  Effect.gen(function* () {
    const settings = settingsOf(options)
    const isSuccessful = options.isSuccessful ?? (() => false)
    const start = yield* Clock.currentTimeMillis
    const machine = yield* SynchronizedRef.make<Machine>(
      toNewGeneration(settings, { state: "closed", generation: 0, counts: zeroCounts, expiry: undefined }, start),
    )
    const changes = yield* PubSub.unbounded<StateChange>()
    const gauge = Metric.withAttributes(stateGauge, { breaker: settings.name })
    const rejected = {
      open: Metric.withAttributes(rejections, { breaker: settings.name, reason: "open" }),
      "too-many-requests": Metric.withAttributes(rejections, { breaker: settings.name, reason: "too-many-requests" }),
    }
    // Made once: a rejection is the fast path, and an error's stack costs more than the rest of it.
    const rejectedOpen = new BreakerOpen({ name: settings.name })
    const rejectedTooMany = new BreakerTooManyRequests({ name: settings.name })
    yield* Metric.update(rejected.open, 0)
    yield* Metric.update(rejected["too-many-requests"], 0)
    yield* Metric.update(gauge, stateValue.closed)
    // Exported from the start, at zero: `increase()` cannot see a counter's first increment.
    for (const [from, to] of possibleTransitions) {
      yield* Metric.update(Metric.withAttributes(transitions, { breaker: settings.name, from, to }), 0)
    }

    /** One step of the machine at the clock's now, under the ref's lock; changes announced in order. */
    const step = <A>(f: (current: Machine, now: number) => Step<A>) =>
      SynchronizedRef.modifyEffect(machine, (current) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const [result, next, happened] = f(current, now)
          for (const change of happened) {
            yield* Effect.logInfo(`circuit breaker ${change.name}: ${change.from} -> ${change.to}`).pipe(
              Effect.annotateLogs({ breaker: change.name, from: change.from, to: change.to }),
            )
            yield* Metric.update(
              Metric.withAttributes(transitions, { breaker: change.name, from: change.from, to: change.to }),
              1,
            )
            yield* Metric.update(gauge, stateValue[change.to])
            yield* PubSub.publish(changes, change)
          }
          return [result, next] as const
        }),
      )

    const admit = step((current, now) => beforeRequest(settings, current, now))
    const settle = (generation: number, success: boolean) =>
      step((current, now) => afterRequest(settings, current, now, generation, success))

    const execute = <A, E2 extends E, R>(effect: Effect.Effect<A, E2, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const admission = yield* admit
          if (admission._tag === "Rejected") {
            yield* SpanEvent.add("breaker.rejected", { "breaker.name": settings.name, reason: admission.reason })
            yield* Metric.update(rejected[admission.reason], 1)
            return yield* admission.reason === "open" ? rejectedOpen : rejectedTooMany
          }
          const exit = yield* Effect.exit(restore(effect))
          yield* settle(admission.generation, succeeded(exit, isSuccessful))
          return yield* exit
        }),
      )

    const observe = step((current, now) => currentState(settings, current, now))

    return {
      name: settings.name,
      execute,
      state: Effect.flatMap(observe, () => Effect.map(SynchronizedRef.get(machine), (m) => m.state)),
      counts: Effect.flatMap(observe, () => Effect.map(SynchronizedRef.get(machine), (m) => m.counts)),
      changes: Stream.fromPubSub(changes),
    }
  })

/** Success, interruption and failures `isSuccessful` accepts count as successes; defects never. */
const succeeded = <A, E>(exit: Exit.Exit<A, E>, isSuccessful: (error: E) => boolean): boolean => {
  if (Exit.isSuccess(exit)) return true
  if (Cause.hasInterruptsOnly(exit.cause)) return true
  if (Cause.hasDies(exit.cause)) return false
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" && isSuccessful(error.value)
}
