/**
 * The arithmetic of a traffic-proportional retry budget, pure: Finagle's `RetryBudget` (a
 * windowed count of deposits and withdrawals plus a reserve) as Linkerd configures it
 * (`retryRatio`, `minRetriesPerSecond`, `ttl`). Each request deposits; a retry is granted when
 * the retries of the last `windowMs`, this one included, stay within `ratio` of that window's
 * requests plus `minPerSecond × window`, so a client never adds more than `ratio` of its own
 * traffic (plus a trickle that lets a quiet client retry at all).
 *
 * The window is kept as Finagle keeps it: `slices` counters of `windowMs / slices` each in a
 * ring, the oldest dropped as time moves on, so memory is fixed whatever the traffic. "The last
 * window" is therefore the current slice and the `slices - 1` before it.
 */
export interface Limits {
  /** Retries allowed per request in the window (Linkerd's default 0.2). */
  readonly ratio: number
  /** Retries allowed per second of window whatever the traffic (Linkerd's default 10). */
  readonly minPerSecond: number
  /** How far back requests and retries count (Linkerd's default 10 s). */
  readonly windowMs: number
  /**
   * How many slices the window is kept in: 100 by default. Finagle keeps 10, but then a run that
   * straddles a slice edge is allowed up to a tenth of a window more than the ratio (measured:
   * 2,616 calls to lang for a 2,601 bound); with 100 it stays within a hundredth.
   */
  readonly slices?: number | undefined
}

export interface Window {
  /** The index of the current slice (epoch milliseconds / slice length). */
  readonly slice: number
  /** Requests per slice, at `slice % slices`. */
  readonly requests: ReadonlyArray<number>
  /** Granted retries per slice, at `slice % slices`. */
  readonly retries: ReadonlyArray<number>
}

const slicesOf = (limits: Limits) => Math.max(1, Math.floor(limits.slices ?? 100))
const sliceMs = (limits: Limits) => Math.max(1, limits.windowMs / slicesOf(limits))

/** Retries allowed in an empty window: `minPerSecond × window`. */
export const reserve = (limits: Limits): number => (limits.minPerSecond * limits.windowMs) / 1000

export const empty = (limits: Limits, now: number): Window => {
  const n = slicesOf(limits)
  return {
    slice: Math.floor(now / sliceMs(limits)),
    requests: Array.from({ length: n }, () => 0),
    retries: Array.from({ length: n }, () => 0),
  }
}

/** The window as of `now`: slices that fell out of it are emptied (a clock going back is ignored). */
export const advance = (limits: Limits, window: Window, now: number): Window => {
  const slice = Math.floor(now / sliceMs(limits))
  if (slice <= window.slice) return window
  const n = slicesOf(limits)
  const requests = [...window.requests]
  const retries = [...window.retries]
  for (let s = Math.max(window.slice + 1, slice - n + 1); s <= slice; s++) {
    requests[s % n] = 0
    retries[s % n] = 0
  }
  return { slice, requests, retries }
}

const sum = (counts: ReadonlyArray<number>) => counts.reduce((a, b) => a + b, 0)

const bump = (counts: ReadonlyArray<number>, at: number) => counts.map((count, i) => (i === at ? count + 1 : count))

/** Counts one request. */
export const deposit = (limits: Limits, window: Window, now: number): Window => {
  const next = advance(limits, window, now)
  return { ...next, requests: bump(next.requests, next.slice % slicesOf(limits)) }
}

/** Whether one more retry fits in the window: `retries + 1 <= ratio × requests + reserve`. */
export const allows = (limits: Limits, requests: number, retries: number): boolean =>
  retries + 1 <= limits.ratio * requests + reserve(limits)

/** Takes one retry if it fits: whether it did, and the window after. */
export const take = (limits: Limits, window: Window, now: number): readonly [boolean, Window] => {
  const next = advance(limits, window, now)
  if (!allows(limits, sum(next.requests), sum(next.retries))) return [false, next]
  return [true, { ...next, retries: bump(next.retries, next.slice % slicesOf(limits)) }]
}

/** Retries the window would still grant now (fractional: a share of a request counts). */
export const available = (limits: Limits, window: Window, now: number): readonly [number, Window] => {
  const next = advance(limits, window, now)
  return [Math.max(0, limits.ratio * sum(next.requests) + reserve(limits) - sum(next.retries)), next]
}
