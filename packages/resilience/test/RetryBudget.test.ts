import { assert, describe, it } from "@effect/vitest"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { SpanRecorder } from "@platform/testkit/SpanRecorder"
import { Effect, Fiber, Metric, Ref, Schedule } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as BudgetMetrics from "../src/BudgetMetrics.ts"
import * as RetryBudget from "../src/RetryBudget.ts"

/** The contract's policy: one retry of a retryable failure, when the budget gives a token. */
const oneRetry = <E>(budget: RetryBudget.RetryBudget, isRetryable: (error: E) => boolean) =>
  Schedule.recurs(1).pipe(
    Schedule.while(({ input }: { readonly input: E }) => isRetryable(input)),
    RetryBudget.gate(budget),
  )

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
      const policy = oneRetry(budget, (error: string) => error === "retryable")

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
                const policy = oneRetry(budget, () => true)
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
  it.effect("gates any schedule: the inner schedule's delays are kept, its refusals take no token", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 2, refillPerSecond: 0 })
      const attempts = yield* Ref.make(0)
      const failing = Effect.andThen(
        Ref.update(attempts, (n) => n + 1),
        Effect.fail("down"),
      )
      const backoff = Schedule.exponential("100 millis").pipe(RetryBudget.gate(budget))
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.retry(failing, backoff)))
      yield* Effect.yieldNow
      assert.strictEqual(yield* Ref.get(attempts), 1)
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(yield* Ref.get(attempts), 1, "the first retry waits its 100 ms")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(attempts), 2)
      yield* TestClock.adjust("200 millis")
      assert.strictEqual(yield* Ref.get(attempts), 3, "then 200 ms")
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.get(attempts), 3, "two tokens, two retries, then the budget stops it")

      const refill = yield* RetryBudget.make({ capacity: 1, refillPerSecond: 0 })
      const nothingRetryable = Schedule.recurs(3).pipe(
        Schedule.while(() => false),
        RetryBudget.gate(refill),
      )
      yield* Effect.flip(Effect.retry(Effect.fail("fatal"), nothingRetryable))
      assert.strictEqual(yield* refill.tokens, 1, "a failure the policy does not retry takes no token")
    }),
  )

  it.effect("counts the retries it grants and refuses, publishes its tokens, and marks both on the span", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ name: "lang", capacity: 1, refillPerSecond: 1 })
      yield* BudgetMetrics.observe(budget)
      const policy = oneRetry(budget, () => true)
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
