import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Deadline from "../src/Deadline.ts"
import * as GroupCommit from "../src/GroupCommit.ts"

/** A table that refuses a whole statement when one of its rows is bad, as a constraint does. */
const table = () => {
  const stored: Array<number> = []
  const statements: Array<ReadonlyArray<number>> = []
  const write = (rows: ReadonlyArray<number>) =>
    Effect.suspend(() => {
      statements.push(rows)
      if (rows.some((row) => row < 0)) return Effect.fail(`row ${rows.find((row) => row < 0)} violates a constraint`)
      stored.push(...rows)
      return Effect.void
    }).pipe(Effect.delay("1 millis"))
  return { stored, statements, write }
}

describe("GroupCommit", () => {
  it.live("property: every good row is stored once before its write succeeds; a bad row fails alone", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: -3, max: 1000 }), { minLength: 1, maxLength: 60 }),
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 3 }),
          async (rows, maxBatch, concurrency) => {
            const db = table()
            const outcomes = await Effect.runPromise(
              Effect.scoped(
                Effect.gen(function* () {
                  const commit = yield* GroupCommit.make({ name: "test", write: db.write, maxBatch, concurrency })
                  return yield* Effect.forEach(
                    rows,
                    (row) =>
                      commit.write(row).pipe(
                        // When a write succeeds, its row is already in.
                        Effect.tap(() => Effect.sync(() => assert.include(db.stored, row))),
                        Effect.exit,
                      ),
                    { concurrency: "unbounded" },
                  )
                }),
              ),
            )
            rows.forEach((row, index) => {
              assert.strictEqual(Exit.isSuccess(outcomes[index] as Exit.Exit<void, string>), row >= 0, `row ${row}`)
            })
            assert.sameMembers(
              db.stored,
              rows.filter((row) => row >= 0),
            )
            assert.strictEqual(db.stored.length, rows.filter((row) => row >= 0).length, "each good row once")
            assert.isTrue(db.statements.every((statement) => statement.length <= maxBatch))
          },
        ),
        { numRuns: 100 },
      ),
    ),
  )

  it.live("under load, rows share statements; alone, a row is written at once", () =>
    Effect.gen(function* () {
      const db = table()
      const commit = yield* GroupCommit.make({ name: "test", write: db.write, concurrency: 1 })
      yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        commit.write,
        { concurrency: "unbounded" },
      )
      assert.isBelow(db.statements.length, 10, `50 rows in ${db.statements.length} statements`)
      const before = db.statements.length
      yield* commit.write(1000)
      assert.deepStrictEqual(db.statements.slice(before), [[1000]])
    }).pipe(Effect.scoped),
  )

  it.live("closing writes what is queued before it ends", () =>
    Effect.gen(function* () {
      const db = table()
      const scope = yield* Scope.make()
      const commit = yield* GroupCommit.make({ name: "test", write: db.write, concurrency: 1 }).pipe(
        Scope.provide(scope),
      )
      const started = yield* Deferred.make<void>()
      const writes = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (row) =>
            (row === 0 ? Deferred.succeed(started, undefined) : Effect.void).pipe(Effect.andThen(commit.write(row))),
          { concurrency: "unbounded" },
        ),
      )
      yield* Deferred.await(started)
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(writes)
      assert.sameMembers(
        db.stored,
        Array.from({ length: 20 }, (_, i) => i),
      )
    }),
  )

  describe("while the database does not answer", () => {
    /** A table behind a database that can be taken away: its statements then fail as a dropped connection does. */
    const flaky = () => {
      const db = table()
      let down = false
      const write = (rows: ReadonlyArray<number>) =>
        Effect.suspend(() => (down ? Effect.fail("connection refused") : db.write(rows)))
      return {
        ...db,
        write,
        setDown: (value: boolean) =>
          Effect.sync(() => {
            down = value
          }),
      }
    }
    const isTransient = (error: string) => error === "connection refused"

    it.effect(
      "property: a caller waits waitAtMost, its row is held, and every held row is written once when it is back",
      () =>
        Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 40 }),
              fc.integer({ min: 1, max: 8 }),
              fc.integer({ min: 1, max: 20 }),
              async (rows, maxBatch, outageSeconds) => {
                const db = flaky()
                const caughtUp: Array<number> = []
                const outcomes = await Effect.runPromise(
                  Effect.scoped(
                    Effect.gen(function* () {
                      const commit = yield* GroupCommit.make({
                        name: "test",
                        write: db.write,
                        maxBatch,
                        isTransient,
                        waitAtMost: "1 second",
                        onCaughtUp: (written) => Effect.sync(() => void caughtUp.push(written)),
                      })
                      yield* db.setDown(true)
                      const writes = yield* Effect.forkChild(
                        Effect.forEach(rows, commit.write, { concurrency: "unbounded" }),
                      )
                      yield* TestClock.adjust("1 second")
                      const outcomes = yield* Fiber.join(writes)
                      assert.deepStrictEqual(db.stored, [], "nothing written while it is down")
                      yield* TestClock.adjust(`${outageSeconds} seconds`)
                      yield* db.setDown(false)
                      // The retry backoff is capped at 5 s: within it, every held row is in.
                      yield* TestClock.adjust("6 seconds")
                      return outcomes
                    }),
                  ).pipe(Effect.provide(TestClock.layer())),
                )
                assert.deepStrictEqual(
                  outcomes,
                  rows.map(() => "held"),
                )
                assert.sameMembers(db.stored, rows)
                assert.strictEqual(db.stored.length, rows.length, "each row once")
                assert.deepStrictEqual(caughtUp, [rows.length])
              },
            ),
            { numRuns: 50 },
          ),
        ),
    )

    it.effect(
      "once a statement has failed for the outage, later callers do not wait; once one succeeds, they do again",
      () =>
        Effect.gen(function* () {
          const db = flaky()
          const commit = yield* GroupCommit.make({ name: "test", write: db.write, isTransient, waitAtMost: "1 second" })
          yield* db.setDown(true)
          const first = yield* Effect.forkChild(commit.write(1))
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* Fiber.join(first), "held")
          // No clock moves: these answer at once.
          assert.deepStrictEqual(yield* Effect.forEach([2, 3], commit.write), ["held", "held"])
          yield* db.setDown(false)
          yield* TestClock.adjust("6 seconds")
          assert.sameMembers(db.stored, [1, 2, 3])
          const after = yield* Effect.forkChild(commit.write(4))
          yield* TestClock.adjust("10 millis")
          assert.strictEqual(yield* Fiber.join(after), "written")
        }).pipe(Effect.scoped),
    )

    /** A database that stops answering without failing anything, as a frozen one does, until thawed. */
    const frozen = () => {
      const db = table()
      const thawed = Deferred.makeUnsafe<void>()
      let isFrozen = false
      const write = (rows: ReadonlyArray<number>) =>
        Effect.suspend(() => (isFrozen ? Effect.andThen(Deferred.await(thawed), db.write(rows)) : db.write(rows)))
      return {
        ...db,
        write,
        freeze: Effect.sync(() => {
          isFrozen = true
        }),
        thaw: Effect.suspend(() => {
          isFrozen = false
          return Deferred.succeed(thawed, undefined)
        }),
      }
    }

    it.effect(
      "a frozen database: once a caller has waited waitAtMost in vain, the next do not wait; all are written after",
      () =>
        Effect.gen(function* () {
          const db = frozen()
          const commit = yield* GroupCommit.make({ name: "test", write: db.write, isTransient, waitAtMost: "1 second" })
          yield* db.freeze
          const first = yield* Effect.forkChild(commit.write(1))
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* Fiber.join(first), "held")
          // No clock moves: these answer at once.
          assert.deepStrictEqual(yield* Effect.forEach([2, 3], commit.write), ["held", "held"])
          yield* db.thaw
          yield* TestClock.adjust("10 millis")
          assert.sameMembers(db.stored, [1, 2, 3])
          const after = yield* Effect.forkChild(commit.write(4))
          yield* TestClock.adjust("10 millis")
          assert.strictEqual(yield* Fiber.join(after), "written")
        }).pipe(Effect.scoped),
    )

    it.effect("a request with a deadline waits for its row only as long as leaves time to answer", () =>
      Effect.gen(function* () {
        const db = frozen()
        const commit = yield* GroupCommit.make({ name: "test", write: db.write, isTransient, waitAtMost: "1 second" })
        yield* db.freeze
        // 300 ms left: the write gives up after 270 (a tenth kept for the answer).
        const first = yield* Effect.forkChild(commit.write(1).pipe(Deadline.within(300)))
        yield* TestClock.adjust("269 millis")
        assert.isUndefined(first.pollUnsafe(), "still waiting at 269 ms")
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* Fiber.join(first), "held")
        // A short deadline proves nothing about the database: the next caller still waits its full second.
        const second = yield* Effect.forkChild(commit.write(2))
        yield* TestClock.adjust("999 millis")
        assert.isUndefined(second.pollUnsafe(), "a caller without a deadline waits waitAtMost")
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* Fiber.join(second), "held")
        yield* db.thaw
        yield* TestClock.adjust("10 millis")
        assert.sameMembers(db.stored, [1, 2])
      }).pipe(Effect.scoped),
    )

    it.effect("closing in an outage gives held rows holdOnClose, then reports each one left as lost", () =>
      Effect.gen(function* () {
        const db = flaky()
        const lost: Array<number> = []
        const scope = yield* Scope.make()
        const commit = yield* GroupCommit.make({
          name: "test",
          write: db.write,
          isTransient,
          waitAtMost: "1 second",
          holdOnClose: "3 seconds",
          onLost: (row) => Effect.sync(() => void lost.push(row)),
        }).pipe(Scope.provide(scope))
        yield* db.setDown(true)
        const writes = yield* Effect.forkChild(Effect.forEach([1, 2, 3], commit.write, { concurrency: "unbounded" }))
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* Fiber.join(writes), ["held", "held", "held"])
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(lost, [], "still within holdOnClose")
        yield* TestClock.adjust("10 seconds")
        yield* Fiber.join(closing)
        assert.sameMembers(lost, [1, 2, 3])
        assert.deepStrictEqual(db.stored, [])
      }),
    )

    it.effect("closing before the database was ever ready reports what was handed over as lost, and ends", () =>
      Effect.gen(function* () {
        const db = flaky()
        const lost: Array<number> = []
        const scope = yield* Scope.make()
        const commit = yield* GroupCommit.make({
          name: "test",
          write: db.write,
          isTransient,
          waitAtMost: "1 second",
          holdOnClose: "3 seconds",
          ready: Effect.never,
          onLost: (row) => Effect.sync(() => void lost.push(row)),
        }).pipe(Scope.provide(scope))
        const writes = yield* Effect.forkChild(Effect.forEach([1, 2], commit.write, { concurrency: "unbounded" }))
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* Fiber.join(writes), ["held", "held"])
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        yield* TestClock.adjust("3 seconds")
        yield* Fiber.join(closing)
        assert.sameMembers(lost, [1, 2])
      }),
    )

    it.effect("beyond maxHeld rows, a write is refused at once with Backlogged", () =>
      Effect.gen(function* () {
        const db = flaky()
        const commit = yield* GroupCommit.make({
          name: "test",
          write: db.write,
          isTransient,
          waitAtMost: "1 second",
          maxHeld: 2,
        })
        yield* db.setDown(true)
        const writes = yield* Effect.forkChild(Effect.forEach([1, 2], commit.write, { concurrency: "unbounded" }))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(writes)
        const refused = yield* Effect.flip(commit.write(3))
        assert.instanceOf(refused, GroupCommit.Backlogged)
        yield* db.setDown(false)
        yield* TestClock.adjust("6 seconds")
        assert.sameMembers(db.stored, [1, 2])
      }).pipe(Effect.scoped),
    )

    it.effect("a row the database refuses still fails its own write, outage or not", () =>
      Effect.gen(function* () {
        const db = flaky()
        const commit = yield* GroupCommit.make({ name: "test", write: db.write, isTransient, waitAtMost: "1 second" })
        const write = yield* Effect.forkChild(Effect.exit(commit.write(-1)))
        yield* TestClock.adjust("10 millis")
        const exit = yield* Fiber.join(write)
        assert.isTrue(Exit.isFailure(exit) && Cause.squash(exit.cause) === "row -1 violates a constraint")
      }).pipe(Effect.scoped),
    )
  })
})
