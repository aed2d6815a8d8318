import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import fc from "fast-check"
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
})
