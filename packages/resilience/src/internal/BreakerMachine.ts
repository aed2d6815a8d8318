import type { Counts, State, StateChange } from "../CircuitBreaker.ts"

/**
 * The breaker's state machine, pure: sony/gobreaker's methods (beforeRequest, afterRequest,
 * currentState, setState, toNewGeneration) with the clock passed in, so that the Effect around
 * it only holds the state and reads the time. Internal: the model-based test checks it through
 * the public breaker.
 */

export interface Settings {
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

export const zeroCounts: Counts = {
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

export type Step<A> = readonly [A, Machine, ReadonlyArray<StateChange>]

export const toNewGeneration = (settings: Settings, machine: Machine, now: number): Machine => ({
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
export const currentState = (settings: Settings, machine: Machine, now: number): Step<void> => {
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

export const beforeRequest = (settings: Settings, machine: Machine, now: number): Step<Admission> => {
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

export const afterRequest = (
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
