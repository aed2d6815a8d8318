import { assert, describe, it } from "@effect/vitest"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { SpanRecorder } from "@platform/testkit/SpanRecorder"
import { Deferred, Effect, Exit, Fiber, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Bulkhead from "../src/Bulkhead.ts"
import * as BulkheadMetrics from "../src/BulkheadMetrics.ts"

describe("Bulkhead", () => {
  it.effect("runs maxConcurrent at once, queues maxQueued, rejects the rest at once, in order", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "lang", maxConcurrent: 2, maxQueued: 1 })
      const gate = yield* Deferred.make<void>()
      const started: Array<number> = []
      const call = (n: number) =>
        bulkhead.execute(
          Effect.andThen(
            Effect.sync(() => started.push(n)),
            Deferred.await(gate),
          ),
        )
      const fibers = yield* Effect.forEach([1, 2, 3], (n) => Effect.forkChild(call(n)))
      yield* Effect.yieldNow
      assert.deepStrictEqual(started, [1, 2])
      assert.strictEqual(yield* bulkhead.inFlight, 2)
      assert.strictEqual(yield* bulkhead.queued, 1)
      const rejected = yield* Effect.flip(call(4))
      assert.strictEqual(rejected._tag, "BulkheadRejected")
      assert.strictEqual(rejected.message, "lang: 2 calls running and 1 waiting, no room for more")
      assert.deepStrictEqual(started, [1, 2], "the rejected call never ran")
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(started, [1, 2, 3])
      assert.strictEqual(yield* bulkhead.inFlight, 0)
      assert.strictEqual(yield* bulkhead.queued, 0)
    }),
  )

  it.effect("a call interrupted while waiting leaves the queue; one interrupted while running frees its place", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "lang", maxConcurrent: 1, maxQueued: 1 })
      const running = yield* Effect.forkChild(bulkhead.execute(Effect.never))
      const waiting = yield* Effect.forkChild(bulkhead.execute(Effect.never))
      yield* Effect.yieldNow
      assert.strictEqual(Exit.isFailure(yield* Effect.exit(bulkhead.execute(Effect.void))), true, "full")
      yield* Fiber.interrupt(waiting)
      assert.strictEqual(yield* bulkhead.queued, 0)
      const next = yield* Effect.forkChild(bulkhead.execute(Effect.succeed("ran")))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(running)
      assert.strictEqual(yield* Fiber.join(next), "ran")
      assert.strictEqual(yield* bulkhead.inFlight, 0)
    }),
  )

  it.effect(
    "property: never more than maxConcurrent running, and a call is rejected only when the bulkhead is full",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 5 }),
            fc.integer({ min: 0, max: 5 }),
            fc.array(
              fc.oneof(
                fc.record({ kind: fc.constant("call" as const), ms: fc.integer({ min: 0, max: 50 }) }),
                fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 30 }) }),
                fc.record({ kind: fc.constant("interrupt" as const), index: fc.nat() }),
              ),
              { maxLength: 60 },
            ),
            (maxConcurrent, maxQueued, steps) =>
              Effect.runPromise(
                Effect.gen(function* () {
                  const bulkhead = yield* Bulkhead.make({ name: "p", maxConcurrent, maxQueued })
                  let running = 0
                  let peak = 0
                  const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
                  for (const step of steps) {
                    if (step.kind === "wait") {
                      yield* TestClock.adjust(step.ms)
                    } else if (step.kind === "interrupt") {
                      const fiber = fibers[step.index % Math.max(1, fibers.length)]
                      if (fiber !== undefined) yield* Fiber.interrupt(fiber)
                    } else {
                      const before = (yield* bulkhead.inFlight) + (yield* bulkhead.queued)
                      const work = Effect.acquireUseRelease(
                        Effect.sync(() => {
                          running++
                          peak = Math.max(peak, running)
                        }),
                        () => Effect.sleep(step.ms),
                        () =>
                          Effect.sync(() => {
                            running--
                          }),
                      )
                      const fiber = yield* Effect.forkChild(bulkhead.execute(work))
                      yield* Effect.yieldNow
                      const exit = fiber.pollUnsafe()
                      const refused = exit !== undefined && Exit.isFailure(exit) && !Exit.hasInterrupts(exit)
                      if (refused !== before >= maxConcurrent + maxQueued) return false
                      fibers.push(fiber)
                    }
                    if (running > maxConcurrent || (yield* bulkhead.inFlight) > maxConcurrent) return false
                    if ((yield* bulkhead.queued) > maxQueued) return false
                  }
                  yield* TestClock.adjust(10_000)
                  return peak <= maxConcurrent && (yield* bulkhead.inFlight) === 0 && (yield* bulkhead.queued) === 0
                }).pipe(Effect.provide(TestClock.layer())),
              ),
          ),
          { numRuns: 300 },
        ),
      ),
  )

  it.effect("publishes running and waiting calls, counts rejections, and marks them on the span", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "lang", maxConcurrent: 1, maxQueued: 1 })
      yield* BulkheadMetrics.observe(bulkhead)
      const scrape = Effect.map(PrometheusMetrics.format(), PrometheusText.parse)
      const value = (metrics: PrometheusText.Scrape, name: string) =>
        PrometheusText.sum(metrics, name, { bulkhead: "lang" })
      const names = ["bulkhead_in_flight", "bulkhead_queued", "bulkhead_rejected_total"]
      const fresh = yield* scrape
      assert.deepStrictEqual(
        names.map((name) => value(fresh, name)),
        [0, 0, 0],
        "exported from the start",
      )
      const gate = yield* Deferred.make<void>()
      const fibers = yield* Effect.forEach([1, 2], () => Effect.forkChild(bulkhead.execute(Deferred.await(gate))))
      yield* Effect.yieldNow
      yield* Effect.flip(bulkhead.execute(Effect.void)).pipe(Effect.withSpan("refused"))
      const busy = yield* scrape
      assert.deepStrictEqual(
        names.map((name) => value(busy, name)),
        [1, 1, 1],
      )
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.join)
      const after = yield* scrape
      assert.deepStrictEqual(
        names.map((name) => value(after, name)),
        [0, 0, 1],
      )
      const spans = yield* Effect.flatMap(SpanRecorder, (recorder) => recorder.spans)
      assert.deepStrictEqual(
        spans.map((span) => [span.name, span.events.map((event) => event.name)]),
        [["refused", ["bulkhead.rejected"]]],
      )
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()), Effect.provide(SpanRecorder.layer)),
  )
})
