import {
  Array as Arr,
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Option,
  Queue,
  Schema,
  type Scope,
  Tracer,
} from "effect"
import * as Deadline from "./Deadline.ts"

/**
 * Group commit for rows written one per request: rows that arrive while a statement is on the
 * wire go together in the next one (a multi-row INSERT), and each caller waits until its own
 * row is in, so "written before the answer" holds. At low load a row is written alone and at
 * once (nothing waits for a batch to fill); under load a database round trip is shared by every
 * request that came in meanwhile. A batch the database refuses is retried row by row, so a bad
 * row fails only its own request.
 *
 * While the database does not answer (`isTransient`), a batch is kept and retried with capped
 * backoff instead of failed, and a caller waits at most `waitAtMost`: then `write` answers
 * `"held"` and the request goes on without its row, which is written when the database is back.
 * Once a statement has failed that way, or a caller has waited `waitAtMost` in vain (a frozen
 * database fails nothing, it just never answers), callers do not wait at all until a statement
 * succeeds again: only the requests that arrive as an outage begins pay `waitAtMost`. A request
 * with a deadline (`Deadline`) waits less when less is left, so that its answer, without the row,
 * still arrives in time: a caller's timeout must not be spent on a row the service can hold.
 * What is held is bounded (`maxHeld`); on close, held rows get `holdOnClose` more to be written,
 * then each one left is reported to `onLost` with its row.
 *
 * A batch's statement runs in a span that is a child of the first request's span and linked to
 * the others (a batch has many parents: OpenTelemetry's way is links).
 */
export interface GroupCommit<A, E> {
  /** Writes `row` with whatever else is waiting: `"written"` once it is committed, `"held"` if that took too long. */
  readonly write: (row: A) => Effect.Effect<"written" | "held", E | Backlogged>
}

/** Too many rows are already held for a database that does not answer: this one is refused. */
export class Backlogged extends Schema.TaggedError<Backlogged>()("Backlogged", {
  message: Schema.String,
}) {}

interface Pending<A, E> {
  readonly row: A
  readonly done: Deferred.Deferred<void, E>
  readonly span: Tracer.AnySpan | undefined
  /** False once the caller stopped waiting: the outcome is then the worker's to report. */
  waiting: boolean
}

/** Of a deadline's time left, what a write leaves for the answer (a tenth, 20 ms at least). */
const answerMargin = (left: number) => Math.max(20, left / 10)

const RETRY_FIRST = Duration.millis(100)
const RETRY_CAP = Duration.seconds(5)

export const make = <A, E, R>(options: {
  /** Span name of a batch's statement (`"GreetingsRepo.insert batch"`). */
  readonly name: string
  /** Writes the rows in one statement. */
  readonly write: (rows: Arr.NonEmptyReadonlyArray<A>) => Effect.Effect<void, E, R>
  /** Rows in one statement at most. */
  readonly maxBatch?: number | undefined
  /** Statements in flight at once: the pool connections it may hold. */
  readonly concurrency?: number | undefined
  /** Failures that mean "the database is not answering": the batch is kept and retried. None by default. */
  readonly isTransient?: ((error: E) => boolean) | undefined
  /** How long a caller waits for its row before it is held. Forever by default. */
  readonly waitAtMost?: Duration.Input | undefined
  /** Rows queued or held at most; beyond, `write` fails with `Backlogged`. */
  readonly maxHeld?: number | undefined
  /** How long held rows still get on close before they count as lost. */
  readonly holdOnClose?: Duration.Input | undefined
  /** Waited on before the first statement (the schema must exist). */
  readonly ready?: Effect.Effect<void> | undefined
  /** A held row that could not be written: its caller is gone, so this is the last word on it. */
  readonly onLost?: ((row: A, cause: Cause.Cause<E>) => Effect.Effect<void>) | undefined
  /** A held row written at last (its caller is long gone). */
  readonly onHeldWritten?: ((row: A) => Effect.Effect<void>) | undefined
  /** Held rows written at last, reported once the backlog is empty. */
  readonly onCaughtUp?: ((written: number) => Effect.Effect<void>) | undefined
}): Effect.Effect<GroupCommit<A, E>, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const maxBatch = options.maxBatch ?? 100
    const maxHeld = options.maxHeld ?? 10_000
    const isTransient = options.isTransient ?? (() => false)
    const holdOnClose = Duration.toMillis(Duration.fromInputUnsafe(options.holdOnClose ?? Duration.seconds(5)))
    const queue = yield* Queue.unbounded<Pending<A, E>, Cause.Done>()
    let queued = 0
    let held = 0
    let heldWritten = 0
    /** The last statement failed as a database that does not answer fails. */
    let outage = false
    let closingAt: number | undefined

    const writeBatch = (batch: Arr.NonEmptyReadonlyArray<Pending<A, E>>) => {
      const [first, ...rest] = batch
      const span = options.write(Arr.map(batch, (pending) => pending.row)).pipe(
        Effect.withSpan(
          options.name,
          {
            kind: "client",
            attributes: { "db.operation.batch.size": batch.length },
            links: rest.flatMap((pending) =>
              pending.span === undefined ? [] : [{ span: pending.span, attributes: {} }],
            ),
          },
          { captureStackTrace: false },
        ),
      )
      return (first.span === undefined ? span : Effect.withParentSpan(span, first.span)).pipe(Effect.exit)
    }

    const complete = (pending: Pending<A, E>, exit: Exit.Exit<void, E>) =>
      Effect.gen(function* () {
        queued--
        yield* Deferred.done(pending.done, exit)
        if (pending.waiting) return
        held--
        if (Exit.isSuccess(exit)) {
          heldWritten++
          if (options.onHeldWritten !== undefined) yield* options.onHeldWritten(pending.row)
        } else if (options.onLost !== undefined) yield* options.onLost(pending.row, exit.cause)
        if (held === 0 && heldWritten > 0) {
          const written = heldWritten
          heldWritten = 0
          if (options.onCaughtUp !== undefined) yield* options.onCaughtUp(written)
        }
      })

    const giveUp = Effect.map(
      Clock.currentTimeMillis,
      (now) => closingAt !== undefined && now >= closingAt + holdOnClose,
    )

    const settle = (batch: Arr.NonEmptyReadonlyArray<Pending<A, E>>): Effect.Effect<void, never, R> =>
      Effect.gen(function* () {
        let delay = RETRY_FIRST
        while (true) {
          const exit = yield* writeBatch(batch)
          if (Exit.isSuccess(exit)) {
            outage = false
            return yield* Effect.forEach(batch, (pending) => complete(pending, exit))
          }
          const error = Cause.findErrorOption(exit.cause)
          if (Option.isSome(error) && isTransient(error.value)) outage = true
          if (Option.isSome(error) && isTransient(error.value) && !(yield* giveUp)) {
            yield* Effect.sleep(delay)
            delay = Duration.min(Duration.times(delay, 2), RETRY_CAP)
            continue
          }
          if (batch.length === 1 || (Option.isSome(error) && isTransient(error.value))) {
            return yield* Effect.forEach(batch, (pending) => complete(pending, exit))
          }
          // One bad row must not fail the others: each goes alone.
          return yield* Effect.forEach(batch, (pending) => settle([pending]))
        }
      }).pipe(Effect.asVoid)

    const closed = yield* Deferred.make<void>()
    /** The service closes before the database was ever ready: what was handed over is lost. */
    const neverReady = Effect.gen(function* () {
      const left = yield* Queue.clear(queue)
      const exit = Exit.die(new Error("the database never answered before the service stopped"))
      yield* Effect.forEach(left, (pending) => complete(pending, exit))
    })

    const worker = Effect.gen(function* () {
      if (options.ready !== undefined) {
        const ready = yield* Effect.raceFirst(
          Effect.as(options.ready, true),
          Deferred.await(closed).pipe(
            // Nothing handed over: nothing to wait for.
            Effect.andThen(Effect.suspend(() => (queued === 0 ? Effect.void : Effect.sleep(holdOnClose)))),
            Effect.as(false),
          ),
        )
        if (!ready) return yield* neverReady
      }
      while (true) {
        const batch = yield* Queue.takeBetween(queue, 1, maxBatch)
        if (Arr.isReadonlyArrayNonEmpty(batch)) yield* settle(batch)
      }
    }).pipe(Effect.catchIf(Cause.isDone, () => Effect.void))

    const workers = yield* Effect.forEach(Array.from({ length: options.concurrency ?? 2 }), () =>
      Effect.forkScoped(worker),
    )
    // The server has drained before this runs (it closes first): what is queued is written, or
    // after `holdOnClose` of an outage, reported lost.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closingAt = yield* Clock.currentTimeMillis
        yield* Deferred.succeed(closed, undefined)
        yield* Queue.end(queue)
        yield* Fiber.awaitAll(workers)
      }),
    )

    const waitAtMost = options.waitAtMost === undefined ? undefined : Duration.fromInputUnsafe(options.waitAtMost)
    return {
      write: (row: A) =>
        Effect.gen(function* () {
          if (queued >= maxHeld) {
            return yield* new Backlogged({
              message: `${maxHeld} rows are already waiting for the database; this one is not kept`,
            })
          }
          const done = yield* Deferred.make<void, E>()
          const span = Option.getOrUndefined(yield* Effect.serviceOption(Tracer.ParentSpan))
          const holdNow = outage && waitAtMost !== undefined
          const pending: Pending<A, E> = { row, done, span, waiting: !holdNow }
          if (!(yield* Queue.offer(queue, pending))) {
            return yield* Effect.die(new Error(`${options.name}: written after the service closed`))
          }
          queued++
          if (holdNow) {
            held++
            return "held" as const
          }
          if (waitAtMost === undefined) return yield* Effect.as(Deferred.await(done), "written" as const)
          const left = yield* Deadline.remaining
          const wait =
            left === undefined
              ? waitAtMost
              : Duration.min(waitAtMost, Duration.millis(Math.max(0, left - answerMargin(left))))
          const outcome = yield* Effect.timeoutOption(Deferred.await(done), wait)
          if (Option.isSome(outcome)) return "written" as const
          // Settled between the timer and now: the outcome is still this caller's.
          if (Deferred.isDoneUnsafe(done)) return yield* Effect.as(Deferred.await(done), "written" as const)
          pending.waiting = false
          held++
          // A full wait in vain: the database is not answering (a short deadline proves nothing).
          if (Duration.equals(wait, waitAtMost)) outage = true
          return "held" as const
        }),
    }
  })
