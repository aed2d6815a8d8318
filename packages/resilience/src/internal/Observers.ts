import { Effect, type Scope } from "effect"

/**
 * The observers of a breaker or a budget: told synchronously, in the fiber whose call caused
 * the event (so a metric is exact when the call returns, and a span event lands in its span).
 * Telling nobody costs nothing, which keeps the fast paths fast when nothing observes.
 */
export interface Observers<O> {
  /** Adds `observer` for as long as the calling scope is open. */
  readonly add: (observer: O) => Effect.Effect<void, never, Scope.Scope>
  readonly tell: (f: (observer: O) => Effect.Effect<void> | undefined) => Effect.Effect<void>
}

export const make = <O>(): Observers<O> => {
  const observers = new Set<O>()
  return {
    add: (observer) =>
      Effect.acquireRelease(
        Effect.sync(() => observers.add(observer)),
        () => Effect.sync(() => observers.delete(observer)),
      ).pipe(Effect.asVoid),
    tell: (f) =>
      observers.size === 0
        ? Effect.void
        : Effect.forEach(observers, (observer) => f(observer) ?? Effect.void, { discard: true }),
  }
}
