import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Ref } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as RetryBudget from "../../src/resilience/RetryBudget.ts"
import { SpanRecorder } from "../../src/Telemetry.ts"
import * as PrometheusText from "../../src/testing/PrometheusText.ts"

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
  it.effect("counts the retries it grants and refuses, publishes its tokens, and marks both on the span", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ name: "lang", capacity: 1, refillPerSecond: 1 })
      const policy = RetryBudget.retrySchedule(budget, { isRetryable: () => true })
      const scrape = Effect.map(PrometheusMetrics.format(), PrometheusText.parse)
      const value = (metrics: PrometheusText.Scrape, name: string) =>
        PrometheusText.sum(metrics, name, { budget: "lang" })
      const fresh = yield* scrape
      assert.deepStrictEqual(
        ["retry_budget_tokens", "retry_budget_retries_total", "retry_budget_refused_total"].map((name) =>
          value(fresh, name),
        ),
        [1, 0, 0],
        "exported from the start",
      )
      yield* Effect.flip(Effect.retry(Effect.fail("503"), policy)).pipe(Effect.withSpan("granted"))
      yield* Effect.flip(Effect.retry(Effect.fail("503"), policy)).pipe(Effect.withSpan("refused"))
      const after = yield* scrape
      assert.strictEqual(value(after, "retry_budget_retries_total"), 1)
      assert.strictEqual(value(after, "retry_budget_refused_total"), 1)
      assert.strictEqual(value(after, "retry_budget_tokens"), 0)
      const spans = yield* Effect.flatMap(SpanRecorder, (recorder) => recorder.spans)
      assert.deepStrictEqual(
        spans.map((span) => [span.name, span.events.map((event) => event.name)]),
        [
          ["granted", ["retry"]],
          ["refused", ["retry.refused"]],
        ],
      )
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()), Effect.provide(SpanRecorder.layer)),
  )
})
