import { assert, describe, it } from "@effect/vitest"
import * as Metrics from "@platform/shared/Metrics"
import { ConfigProvider, Deferred, Effect, Exit, Fiber, Layer, Logger, Ref, Scope } from "effect"
import { SqlError } from "effect/sql"
import { TestClock } from "effect/testing"
import { CallerConfig } from "../src/Config.ts"
import { CallLogQueue } from "../src/persistence/CallLogQueue.ts"
import { type CallLog, CallLogsRepo } from "../src/persistence/CallLogsRepo.ts"

const row = (i: number): CallLog => ({ url: `http://example.com/${i}`, status_code: 200, body_length: i })

/** A database double that stores rows, can be made unavailable, and can be held mid-insert. */
const database = Effect.gen(function* () {
  const stored = yield* Ref.make<ReadonlyArray<CallLog>>([])
  const batches = yield* Ref.make<ReadonlyArray<number>>([])
  const down = yield* Ref.make(false)
  const hold = yield* Ref.make<Deferred.Deferred<void> | undefined>(undefined)
  const repo = CallLogsRepo.of({
    insertMany: (rows) =>
      Effect.gen(function* () {
        const gate = yield* Ref.get(hold)
        if (gate !== undefined) yield* Deferred.await(gate)
        if (yield* Ref.get(down)) {
          return yield* new SqlError.SqlError({
            reason: new SqlError.ConnectionError({ cause: new Error("connection refused"), message: "down" }),
          })
        }
        yield* Ref.update(stored, (all) => [...all, ...rows])
        yield* Ref.update(batches, (all) => [...all, rows.length])
      }),
  })
  return { repo, stored, batches, down, hold }
})

const queueLayer = (repo: CallLogsRepo["Service"], env: Record<string, string> = {}) =>
  CallLogQueue.layer.pipe(
    Layer.provide(Layer.succeed(CallLogsRepo, repo)),
    Layer.provide(CallerConfig.layer),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))),
    Layer.provide(Metrics.layer),
  )

describe("CallLogQueue", () => {
  it.effect("rows are written off the request path, in batches, and all of them are in once it closes", () =>
    Effect.gen(function* () {
      const db = yield* database
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(queueLayer(db.repo, { CALLER_LOG_BATCH_SIZE: "50" }), scope)
      const queue = yield* CallLogQueue.pipe(Effect.provide(context))
      const gate = yield* Deferred.make<void>()
      yield* Ref.set(db.hold, gate)
      // Offering does not wait for the database.
      for (let i = 0; i < 120; i++) yield* queue.offer(row(i))
      assert.strictEqual((yield* Ref.get(db.stored)).length, 0)
      yield* Ref.set(db.hold, undefined)
      yield* Deferred.succeed(gate, undefined)
      yield* Scope.close(scope, Exit.void)
      const stored = yield* Ref.get(db.stored)
      assert.deepStrictEqual(
        stored.map((r) => r.body_length),
        Array.from({ length: 120 }, (_, i) => i),
      )
      assert.isTrue((yield* Ref.get(db.batches)).every((size) => size <= 50))
      assert.isBelow((yield* Ref.get(db.batches)).length, 120, "rows went in batches")
    }),
  )

  it.effect("while the database is down, rows wait and are retried with backoff; none is lost", () =>
    Effect.gen(function* () {
      const db = yield* database
      yield* Ref.set(db.down, true)
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(queueLayer(db.repo), scope)
      const queue = yield* CallLogQueue.pipe(Effect.provide(context))
      for (let i = 0; i < 10; i++) yield* queue.offer(row(i))
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* Ref.get(db.stored)).length, 0)
      assert.strictEqual(yield* queue.pending, 0, "the worker holds the batch it keeps retrying")
      yield* Ref.set(db.down, false)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Ref.get(db.stored)).length, 10)
      yield* Scope.close(scope, Exit.void)
    }),
  )

  it.effect("when the queue is full, the request writes its own row instead of dropping it", () =>
    Effect.gen(function* () {
      const db = yield* database
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        queueLayer(db.repo, { CALLER_LOG_QUEUE_SIZE: "2", CALLER_LOG_BATCH_SIZE: "1" }),
        scope,
      )
      const queue = yield* CallLogQueue.pipe(Effect.provide(context))
      // Hold the worker inside its first insert: row 0 is in its hands, rows 1-2 fill the queue.
      const gate = yield* Deferred.make<void>()
      yield* Ref.set(db.hold, gate)
      yield* queue.offer(row(0))
      yield* Effect.yieldNow
      yield* queue.offer(row(1))
      yield* queue.offer(row(2))
      assert.strictEqual(yield* queue.pending, 2)
      // Row 3 finds the queue full: its own insert waits on the database like the worker.
      const own = yield* Effect.forkChild(queue.offer(row(3)))
      yield* Effect.yieldNow
      assert.strictEqual(yield* queue.pending, 2, "row 3 did not go into the full queue")
      assert.isUndefined(own.pollUnsafe(), "the request waits for its own insert")
      yield* Ref.set(db.hold, undefined)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(own)
      assert.include(
        (yield* Ref.get(db.stored)).map((r) => r.body_length),
        3,
        "the overflowing request stored its row itself",
      )
      yield* Scope.close(scope, Exit.void)
      assert.sameMembers(
        (yield* Ref.get(db.stored)).map((r) => r.body_length),
        [0, 1, 2, 3],
      )
    }),
  )

  it.effect(
    "a full queue while the database hangs: the request waits at most 1 s, and its row is logged in full",
    () => {
      const logged: Array<unknown> = []
      const logger = Logger.layer([Logger.make(({ message }) => void logged.push(message))])
      return Effect.gen(function* () {
        const db = yield* database
        // The database takes the first batch and does not answer until the end.
        const gate = yield* Deferred.make<void>()
        yield* Ref.set(db.hold, gate)
        const context = yield* Layer.build(
          queueLayer(db.repo, { CALLER_LOG_QUEUE_SIZE: "1", CALLER_LOG_BATCH_SIZE: "1" }),
        )
        const queue = yield* CallLogQueue.pipe(Effect.provide(context))
        yield* queue.offer(row(1))
        yield* Effect.yieldNow
        yield* queue.offer(row(2))
        const third = yield* Effect.forkChild(queue.offer(row(3)))
        yield* TestClock.adjust("999 millis")
        assert.isUndefined(third.pollUnsafe(), "still trying its own INSERT")
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(third)
        const line = JSON.stringify(logged.find((message) => JSON.stringify(message).includes("could not be stored")))
        assert.include(line, "the queue is full and the database did not answer within 1s")
        // The row in full: its fields, and the id it is stored under.
        assert.include(line, JSON.stringify(row(3)).slice(0, -1))
        assert.match(line, /"id":"[0-9a-f-]{36}"/)
        // The database answers again: the queued rows go in.
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.yieldNow
      }).pipe(Effect.provide(logger))
    },
  )
})
