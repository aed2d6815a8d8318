import { Effect, Schema, type Scope, Semaphore } from "effect"
import { dual } from "effect/Function"
import * as Observers from "./internal/Observers.ts"
import { withoutStack } from "./internal/withoutStack.ts"

/**
 * A bulkhead: at most `maxConcurrent` calls to one dependency run at once, at most `maxQueued`
 * more wait for a place (first come, first served), and any call beyond that fails at once with
 * `BulkheadRejected`, without running. A slow dependency then holds a bounded number of a
 * service's fibers, sockets and memory, and the callers beyond it learn at once instead of
 * piling up behind it (Moleculer's and Kratos' bulkhead, Envoy's `max_requests` and
 * `max_pending_requests`).
 *
 * A call interrupted while it waits leaves the queue; one interrupted while it runs frees its
 * place. The counts are plain numbers changed synchronously inside one Effect step (JavaScript
 * runs one fiber step at a time), so admission costs no more than reading two numbers; the
 * waiting itself is Effect's `Semaphore`.
 */

export interface Options {
  readonly name: string
  /** Calls that may run at once (at least 1). */
  readonly maxConcurrent: number
  /** Calls that may wait for a place (0: none wait, a full bulkhead rejects at once). */
  readonly maxQueued: number
}

/** A call the bulkhead refused at once: `maxConcurrent` were running and `maxQueued` waiting. */
export class BulkheadRejected extends Schema.TaggedError<BulkheadRejected>()("BulkheadRejected", {
  bulkhead: Schema.String,
  maxConcurrent: Schema.Int,
  maxQueued: Schema.Int,
}) {
  override get message() {
    return `${this.bulkhead}: ${this.maxConcurrent} calls running and ${this.maxQueued} waiting, no room for more`
  }
}

/** What an observer is told, in the fiber of the call (so in its span). */
export interface Observer {
  /** The running and waiting calls, after each change. */
  readonly onLoad?: ((inFlight: number, queued: number) => Effect.Effect<void>) | undefined
  readonly onRejection?: ((rejection: BulkheadRejected) => Effect.Effect<void>) | undefined
}

export interface Bulkhead {
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueued: number
  /** Runs `effect` when there is a place, or fails at once with `BulkheadRejected`. */
  readonly execute: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  /** Calls running now. */
  readonly inFlight: Effect.Effect<number>
  /** Calls waiting for a place now. */
  readonly queued: Effect.Effect<number>
  /** Tells `observer` of every change of load and every rejection while the calling scope is open. */
  readonly observe: (observer: Observer) => Effect.Effect<void, never, Scope.Scope>
}

export const make = (options: Options): Effect.Effect<Bulkhead> =>
  Effect.gen(function* () {
    const maxConcurrent = Math.max(1, Math.floor(options.maxConcurrent))
    const maxQueued = Math.max(0, Math.floor(options.maxQueued))
    const places = yield* Semaphore.make(maxConcurrent)
    const { add, tell } = Observers.make<Observer>()
    const rejection = withoutStack(() => new BulkheadRejected({ bulkhead: options.name, maxConcurrent, maxQueued }))
    // Calls admitted (running or waiting), and of those, running.
    let admitted = 0
    let running = 0
    const load = Effect.suspend(() => tell((observer) => observer.onLoad?.(running, admitted - running)))
    const leave = Effect.suspend(() => {
      admitted--
      return load
    })
    const run = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        running++
        return Effect.andThen(load, effect)
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            running--
          }),
        ),
        places.withPermit,
      )
    const execute = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejected, R> =>
      Effect.suspend((): Effect.Effect<A, E | BulkheadRejected, R> => {
        if (admitted >= maxConcurrent + maxQueued) {
          return Effect.andThen(
            tell((observer) => observer.onRejection?.(rejection)),
            Effect.fail(rejection),
          )
        }
        admitted++
        return Effect.andThen(load, run(effect)).pipe(Effect.ensuring(leave))
      })
    return {
      name: options.name,
      maxConcurrent,
      maxQueued,
      execute,
      inFlight: Effect.sync(() => running),
      queued: Effect.sync(() => admitted - running),
      observe: add,
    } satisfies Bulkhead
  })

/** Runs `effect` through `bulkhead` (data-first or pipeable). */
export const execute: {
  (bulkhead: Bulkhead): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadRejected, R>
} = dual(
  2,
  <A, E, R>(effect: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadRejected, R> =>
    bulkhead.execute(effect),
)
