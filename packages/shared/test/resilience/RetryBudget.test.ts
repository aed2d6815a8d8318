import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as RetryBudget from "../../src/resilience/RetryBudget.ts"

describe("RetryBudget", () => {
  it.effect("starts full, gives one token per take, refills continuously, never above capacity", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 20, refillPerSecond: 10 })
      assert.strictEqual(yield* budget.tokens, 20)
      for (let i = 0; i < 20; i++) assert.isTrue(yield* budget.tryTake)
      assert.isFalse(yield* budget.tryTake)
      yield* TestClock.adjust("100 millis")
      assert.isTrue(yield* budget.tryTake, "one token after 0.1 s at 10/s")
      assert.isFalse(yield* budget.tryTake)
      yield* TestClock.adjust("50 millis")
      assert.closeTo(yield* budget.tokens, 0.5, 1e-9)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* budget.tokens, 20, "capped at capacity")
    }),
  )

  it.effect("the schedule retries a retryable failure once, when the budget allows", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 1, refillPerSecond: 1 })
      const attempts = yield* Ref.make(0)
      const failing = (error: "retryable" | "fatal") =>
        Effect.andThen(
          Ref.update(attempts, (n) => n + 1),
          Effect.fail(error),
        )
      const policy = RetryBudget.retrySchedule(budget, { isRetryable: (error: string) => error === "retryable" })

      yield* Effect.flip(Effect.retry(failing("fatal"), policy))
      assert.strictEqual(yield* Ref.getAndSet(attempts, 0), 1, "not retryable: one attempt")

      yield* Effect.flip(Effect.retry(failing("retryable"), policy))
      assert.strictEqual(yield* Ref.getAndSet(attempts, 0), 2, "retryable: one retry, not more")

      yield* Effect.flip(Effect.retry(failing("retryable"), policy))
      assert.strictEqual(yield* Ref.getAndSet(attempts, 0), 1, "the budget is empty: no retry")

      yield* TestClock.adjust("1 second")
      yield* Effect.flip(Effect.retry(failing("retryable"), policy))
      assert.strictEqual(yield* Ref.get(attempts), 2, "refilled")
    }),
  )

  it.effect("property: over any run, retries <= capacity + refill × elapsed seconds", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 30 }),
          fc.integer({ min: 0, max: 20 }),
          fc.array(
            fc.oneof(
              fc.record({ kind: fc.constant("calls" as const), count: fc.integer({ min: 1, max: 40 }) }),
              fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
            ),
            { maxLength: 40 },
          ),
          (capacity, refillPerSecond, steps) =>
            Effect.runPromise(
              Effect.gen(function* () {
                const budget = yield* RetryBudget.make({ capacity, refillPerSecond })
                const policy = RetryBudget.retrySchedule(budget, { isRetryable: () => true })
                const attempts = yield* Ref.make(0)
                let calls = 0
                let elapsedMs = 0
                for (const step of steps) {
                  if (step.kind === "wait") {
                    yield* TestClock.adjust(step.ms)
                    elapsedMs += step.ms
                    continue
                  }
                  for (let i = 0; i < step.count; i++) {
                    calls++
                    yield* Effect.ignore(
                      Effect.retry(
                        Effect.andThen(
                          Ref.update(attempts, (n) => n + 1),
                          Effect.fail("down"),
                        ),
                        policy,
                      ),
                    )
                  }
                }
                const retries = (yield* Ref.get(attempts)) - calls
                return retries >= 0 && retries <= capacity + (refillPerSecond * elapsedMs) / 1000 && retries <= calls
              }).pipe(Effect.provide(TestClock.layer())),
            ),
        ),
        { numRuns: 300 },
      ),
    ),
  )
})
