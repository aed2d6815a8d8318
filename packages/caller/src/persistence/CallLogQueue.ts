import { randomUUID } from "node:crypto"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import * as Metrics from "@platform/shared/Metrics"
import { ServiceConfig } from "@platform/shared/ServiceConfig"
import * as Spool from "@platform/shared/Spool"
import { Cause, Clock, Context, Duration, Effect, Fiber, Layer, Metric, Option, Queue, Schedule } from "effect"
import { CallerConfig } from "../Config.ts"
import { type CallLog, CallLogsRepo, StoredCallLog } from "./CallLogsRepo.ts"

/** A row in the queue, and where the spool holds it (if it does). */
interface Entry {
  readonly row: StoredCallLog
  readonly ticket: Spool.Ticket | undefined
}

/** How long a shutdown waits for queued rows to reach the database before giving up on them. */
const DRAIN_TIMEOUT = Duration.seconds(10)

/** Retries while the database is down: quickly at first, then every few seconds. */
const retryWhileDown = Schedule.min([Schedule.exponential("100 millis"), Schedule.spaced("5 seconds")])

export const queueDepth = Metric.gauge("caller_call_log_queue_depth", {
  description: "Call logs waiting in the queue for the database",
})

export const rowsWritten = Metric.counter("caller_call_logs_written_total", {
  description: "Call logs written to the database",
  incremental: true,
})

export const writeFailures = Metric.counter("caller_call_log_write_failures_total", {
  description: "Failed attempts to write call logs (the rows are kept and retried)",
  incremental: true,
})

/**
 * Call logs off the request path, and none lost. A request offers its row and answers at once;
 * a background fiber drains the bounded queue in batches (one multi-row INSERT each), and while
 * the database is down it keeps the batch and retries with backoff. When the queue is full,
 * the request writes its own row rather than dropping it. On shutdown, after the server has
 * drained its requests, the queue is closed and emptied into the database before the pool
 * closes; rows that still cannot be stored then are written to the log, so they are not lost.
 *
 * With `CALLER_SPOOL_DIR`, every row is also appended to a crash-safe spool before the request
 * is answered (`Spool`): a `kill -9` loses nothing, whatever the database is doing, and the rows
 * left on disk are replayed at the next start. A full queue then costs the request nothing: its
 * row is on disk and a background fiber replays it.
 */
export class CallLogQueue extends Context.Service<
  CallLogQueue,
  {
    readonly offer: (row: CallLog) => Effect.Effect<void>
    /** Rows waiting for the database. */
    readonly pending: Effect.Effect<number>
  }
>()("caller/CallLogQueue") {
  static readonly layer = Layer.effect(
    CallLogQueue,
    Effect.gen(function* () {
      const config = yield* CallerConfig
      const repo = yield* CallLogsRepo
      const queue = yield* Queue.bounded<Entry, Cause.Done>(config.logQueueCapacity)
      const spool = Option.isSome(config.spoolDirectory)
        ? yield* Spool.make({
            directory: config.spoolDirectory.value,
            name: "call_logs",
            schema: StoredCallLog,
            maxBytes: config.spoolMaxBytes,
          })
        : undefined
      const writeTimeout = Option.match(yield* Effect.serviceOption(ServiceConfig), {
        onNone: () => Duration.seconds(1),
        onSome: (kernel) => kernel.databaseWriteTimeout,
      })

      /** One INSERT of `rows`, counted either way. */
      const insert = (rows: ReadonlyArray<StoredCallLog>) =>
        repo.insertMany(rows).pipe(
          Effect.tap(() => Metric.update(rowsWritten, rows.length)),
          Effect.tapError(() => Metric.update(writeFailures, 1)),
        )

      const store = (rows: ReadonlyArray<StoredCallLog>) =>
        insert(rows).pipe(
          Effect.tapError((error) =>
            Effect.logWarning(`${rows.length} call log(s) wait for the database: ${ErrorMessage.describe(error)}`),
          ),
          Effect.retry(retryWhileDown),
        )

      yield* Metrics.onScrape(Effect.flatMap(Queue.size(queue), (size) => Metric.update(queueDepth, size)))
      // Exported from the start, at zero: `increase()` cannot see a counter's first increment.
      yield* Metrics.atZero(rowsWritten, [{}])
      yield* Metrics.atZero(writeFailures, [{}])

      // The batch the worker holds: out of the queue, not yet in the database.
      let inFlight: ReadonlyArray<Entry> = []
      const drain = Effect.gen(function* () {
        while (true) {
          inFlight = yield* Queue.takeBetween(queue, 1, config.logBatchSize)
          yield* store(inFlight.map((entry) => entry.row))
          if (spool !== undefined) {
            yield* spool.confirm(inFlight.flatMap((entry) => (entry.ticket === undefined ? [] : [entry.ticket])))
          }
          inFlight = []
        }
      }).pipe(Effect.catchIf(Cause.isDone, () => Effect.void))

      const worker = yield* Effect.forkScoped(drain)

      if (spool !== undefined) {
        // Rows only the spool has (left by a crash, or past a full queue) go in from there.
        yield* Metrics.onScrape(Effect.asVoid(spool.bytes))
        const replayed = (count: number) =>
          count === 0 ? Effect.void : Effect.logInfo(`${count} call log(s) replayed from the spool`)
        yield* Effect.forkScoped(
          Effect.forever(
            spool
              .replay(store, config.logBatchSize)
              .pipe(Effect.flatMap(replayed), Effect.andThen(Effect.sleep("1 second"))),
          ),
        )
      }

      // Registered after the worker's fork: it runs first when the layer closes, so the worker
      // is still there to empty the queue.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const left = yield* Queue.size(queue)
          if (left > 0) yield* Effect.logInfo(`writing ${left} queued call log(s) before exit`)
          yield* Queue.end(queue)
          const drained = yield* Fiber.join(worker).pipe(Effect.timeoutOption(DRAIN_TIMEOUT), Effect.orDie)
          if (Option.isNone(drained)) {
            const left = [...inFlight, ...(yield* Queue.clear(queue))]
            const spooled = left.filter((entry) => entry.ticket !== undefined).length
            if (spooled > 0) {
              yield* Effect.logWarning(`the database did not take ${spooled} call log(s) in time: kept in the spool`)
            }
            const lost = left.filter((entry) => entry.ticket === undefined).map((entry) => entry.row)
            if (lost.length > 0) {
              yield* Effect.logError(`the database did not take ${lost.length} call log(s) in time; here they are`, {
                call_logs: lost,
              })
            }
          }
        }),
      )

      const offer = (call: CallLog) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const row: StoredCallLog = { ...call, id: randomUUID(), created_at: new Date(now).toISOString() }
          const ticket = spool === undefined ? undefined : yield* spool.append(row)
          if (Queue.offerUnsafe(queue, { row, ticket })) return
          // Full (or closing), but on disk: the replay takes it from there.
          if (ticket !== undefined && spool !== undefined) return yield* spool.overflowed(ticket)
          // Full and not spooled: this request pays for its own row instead of losing it, but
          // never waits on a database that does not answer longer than a request's write may wait.
          yield* insert([row]).pipe(
            Effect.timeoutOrElse({
              duration: writeTimeout,
              orElse: () =>
                Effect.fail(
                  new Error(
                    `the queue is full and the database did not answer within ${Duration.format(writeTimeout)}`,
                  ),
                ),
            }),
            Effect.catch((error) =>
              Effect.logError(`a call log could not be stored: ${ErrorMessage.describe(error)}`, {
                call_log: row,
              }),
            ),
          )
        })

      return CallLogQueue.of({ offer, pending: Queue.size(queue) })
    }),
  )
}
