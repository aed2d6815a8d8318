import { Array as Arr, Cause, Deferred, Effect, Exit, Fiber, Option, Queue, type Scope, Tracer } from "effect"

/**
 * Group commit for rows written one per request: rows that arrive while a statement is on the
 * wire go together in the next one (a multi-row INSERT), and each caller still waits until its
 * own row is in, so "written before the answer" holds. At low load a row is written alone and
 * at once (nothing waits for a batch to fill); under load a database round trip is shared by
 * every request that came in meanwhile. A batch that fails is retried row by row, so a bad row
 * fails only its own request.
 *
 * Each batch's statement runs in a span linked to the spans of the requests it carries (a
 * batch has many parents: OpenTelemetry's way is links).
 */
export interface GroupCommit<A, E> {
  /** Writes `row` with whatever else is waiting; succeeds once it is committed. */
  readonly write: (row: A) => Effect.Effect<void, E>
}

interface Pending<A, E> {
  readonly row: A
  readonly done: Deferred.Deferred<void, E>
  readonly span: Tracer.AnySpan | undefined
}

export const make = <A, E, R>(options: {
  /** Span name of a batch's statement (`"GreetingsRepo.insert batch"`). */
  readonly name: string
  /** Writes the rows in one statement. */
  readonly write: (rows: Arr.NonEmptyReadonlyArray<A>) => Effect.Effect<void, E, R>
  /** Rows in one statement at most. */
  readonly maxBatch?: number | undefined
  /** Statements in flight at once: the pool connections it may hold. */
  readonly concurrency?: number | undefined
}): Effect.Effect<GroupCommit<A, E>, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const maxBatch = options.maxBatch ?? 100
    const queue = yield* Queue.unbounded<Pending<A, E>, Cause.Done>()

    const writeBatch = (batch: Arr.NonEmptyReadonlyArray<Pending<A, E>>) =>
      options.write(Arr.map(batch, (pending) => pending.row)).pipe(
        Effect.withSpan(
          options.name,
          {
            kind: "client",
            attributes: { "db.operation.batch.size": batch.length },
            links: batch.flatMap((pending) =>
              pending.span === undefined ? [] : [{ span: pending.span, attributes: {} }],
            ),
          },
          { captureStackTrace: false },
        ),
        Effect.exit,
      )

    const settle = (batch: Arr.NonEmptyReadonlyArray<Pending<A, E>>): Effect.Effect<void, never, R> =>
      Effect.flatMap(writeBatch(batch), (exit) =>
        Exit.isSuccess(exit) || batch.length === 1
          ? Effect.forEach(batch, (pending) => Deferred.done(pending.done, exit), { discard: true })
          : // One bad row must not fail the others: each goes alone.
            Effect.forEach(batch, (pending) => settle([pending]), { discard: true }),
      )

    const worker = Effect.gen(function* () {
      while (true) {
        const batch = yield* Queue.takeBetween(queue, 1, maxBatch)
        if (Arr.isReadonlyArrayNonEmpty(batch)) yield* settle(batch)
      }
    }).pipe(Effect.catchIf(Cause.isDone, () => Effect.void))

    const workers = yield* Effect.forEach(Array.from({ length: options.concurrency ?? 2 }), () =>
      Effect.forkScoped(worker),
    )
    // The server has drained before this runs (it closes first): what is queued is written.
    yield* Effect.addFinalizer(() => Queue.end(queue).pipe(Effect.andThen(Fiber.awaitAll(workers))))

    return {
      write: (row: A) =>
        Effect.gen(function* () {
          const done = yield* Deferred.make<void, E>()
          const span = Option.getOrUndefined(yield* Effect.serviceOption(Tracer.ParentSpan))
          const queued = yield* Queue.offer(queue, { row, done, span })
          if (!queued) return yield* Effect.die(new Error(`${options.name}: written after the service closed`))
          return yield* Deferred.await(done)
        }),
    }
  })
