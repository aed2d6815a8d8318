import { assert, describe, it } from "@effect/vitest"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { SpanRecorder } from "@platform/testkit/SpanRecorder"
import { Deferred, Duration, Effect, Exit, Fiber, Metric, Option, Scope, Stream } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import * as BreakerMetrics from "../src/BreakerMetrics.ts"
import * as CircuitBreaker from "../src/CircuitBreaker.ts"

/** The contract's gateway breaker: MaxRequests 3, Interval 10 s, Timeout 30 s, 5 consecutive failures. */
const gatewayLike = CircuitBreaker.make<string>({
  name: "test",
  maxRequests: 3,
  interval: "10 seconds",
  timeout: "30 seconds",
  readyToTrip: (counts) => counts.consecutiveFailures >= 5,
})

const fail = <E>(breaker: CircuitBreaker.CircuitBreaker<E>, error: E) =>
  Effect.flip(breaker.execute(Effect.fail(error)))
const succeed = <E>(breaker: CircuitBreaker.CircuitBreaker<E>) => breaker.execute(Effect.succeed("ok"))

const trip = (breaker: CircuitBreaker.CircuitBreaker<string>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 5; i++) yield* fail(breaker, "boom")
    assert.strictEqual(yield* breaker.state, "open")
  })

describe("CircuitBreaker (gobreaker semantics)", () => {
  it.effect("closed: failures count; the 5th consecutive failure opens it", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      for (let i = 0; i < 4; i++) assert.strictEqual(yield* fail(breaker, "boom"), "boom")
      assert.strictEqual(yield* breaker.state, "closed")
      assert.deepStrictEqual(yield* breaker.counts, {
        requests: 4,
        totalSuccesses: 0,
        totalFailures: 4,
        consecutiveSuccesses: 0,
        consecutiveFailures: 4,
      })
      yield* succeed(breaker)
      assert.strictEqual((yield* breaker.counts).consecutiveFailures, 0, "a success resets the streak")
      yield* trip(breaker)
      assert.deepStrictEqual(yield* breaker.counts, {
        requests: 0,
        totalSuccesses: 0,
        totalFailures: 0,
        consecutiveSuccesses: 0,
        consecutiveFailures: 0,
      })
    }),
  )

  it.effect("open: calls fail at once with BreakerRejected (Open, and the time left), without running", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      yield* trip(breaker)
      let ran = false
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(breaker.execute(Effect.sync(() => (ran = true))))
      assert.strictEqual(error._tag, "BreakerRejected")
      assert.strictEqual(error.reason._tag, "Open")
      assert.strictEqual(error.reason._tag === "Open" ? Duration.toMillis(error.reason.retryAfter) : -1, 20_000)
      assert.strictEqual(error.message, "circuit breaker is open")
      assert.isFalse(ran)
    }),
  )

  it.effect("open -> half-open once the timeout has passed (strictly after it, as gobreaker)", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      yield* trip(breaker)
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* breaker.state, "half-open")
    }),
  )

  it.effect("retryAfter: the time left while open, none when closed or half-open", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      assert.isTrue(Option.isNone(yield* breaker.retryAfter), "closed")
      yield* trip(breaker)
      assert.deepStrictEqual(yield* breaker.retryAfter, Option.some(Duration.seconds(30)))
      yield* TestClock.adjust("12 seconds")
      assert.deepStrictEqual(yield* breaker.retryAfter, Option.some(Duration.seconds(18)))
      yield* TestClock.adjust("18001 millis")
      assert.strictEqual(yield* breaker.state, "half-open")
      assert.isTrue(Option.isNone(yield* breaker.retryAfter), "half-open")
    }).pipe(Effect.scoped),
  )

  it.effect("half-open: at most maxRequests calls in flight; the next is rejected (TooManyRequests)", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      yield* trip(breaker)
      yield* TestClock.adjust("31 seconds")
      const gate = yield* Deferred.make<void>()
      const inFlight = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(breaker.execute(Deferred.await(gate))))
      yield* Effect.yieldNow
      const overflow = yield* Effect.flip(breaker.execute(Effect.void))
      assert.strictEqual(overflow._tag, "BreakerRejected")
      assert.strictEqual(overflow._tag === "BreakerRejected" ? overflow.reason._tag : "", "TooManyRequests")
      assert.strictEqual(overflow.message, "too many requests")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(inFlight)
      assert.strictEqual(yield* breaker.state, "closed", "maxRequests consecutive successes close it")
    }),
  )

  it.effect("half-open: one failure re-opens it for another timeout", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      yield* trip(breaker)
      yield* TestClock.adjust("31 seconds")
      yield* succeed(breaker)
      yield* fail(breaker, "again")
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* breaker.state, "half-open")
    }),
  )

  it.effect("closed: the counts are cleared every interval", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      for (let i = 0; i < 4; i++) yield* fail(breaker, "boom")
      yield* TestClock.adjust("10001 millis")
      assert.strictEqual((yield* breaker.counts).consecutiveFailures, 0)
      for (let i = 0; i < 4; i++) yield* fail(breaker, "boom")
      assert.strictEqual(yield* breaker.state, "closed", "4 + 4 across windows do not trip it")
    }),
  )

  it.effect("a call that started in an older generation does not count", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      const gate = yield* Deferred.make<void>()
      const slow = yield* Effect.forkChild(
        Effect.flip(breaker.execute(Effect.andThen(Deferred.await(gate), Effect.fail("late")))),
      )
      yield* Effect.yieldNow
      yield* trip(breaker)
      yield* TestClock.adjust("31 seconds")
      assert.strictEqual(yield* breaker.state, "half-open")
      // The slow call fails now, in the half-open generation: it must not re-open the breaker.
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(slow), "late")
      assert.strictEqual(yield* breaker.state, "half-open")
    }),
  )

  it.effect("interruption counts as a success, a defect as a failure, isSuccessful decides for errors", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make<"ignorable" | "real">({
        name: "kinds",
        readyToTrip: (counts) => counts.consecutiveFailures >= 1,
        isSuccessful: (error) => error === "ignorable",
      })
      const cancelled = yield* Effect.forkChild(breaker.execute(Effect.never))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(cancelled)
      assert.deepStrictEqual([(yield* breaker.counts).totalSuccesses, yield* breaker.state], [1, "closed"])
      yield* Effect.flip(breaker.execute(Effect.fail("ignorable" as const)))
      assert.strictEqual(yield* breaker.state, "closed")
      yield* Effect.exit(breaker.execute(Effect.die("bug")))
      assert.strictEqual(yield* breaker.state, "open")
    }),
  )

  it.effect("state changes are published in order", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(breaker.changes, 3)))
      yield* Effect.yieldNow
      yield* trip(breaker)
      yield* TestClock.adjust("31 seconds")
      for (let i = 0; i < 3; i++) yield* succeed(breaker)
      const changes = yield* Fiber.join(collected)
      assert.deepStrictEqual(
        changes.map((change) => `${change.from}->${change.to}`),
        ["closed->open", "open->half-open", "half-open->closed"],
      )
      assert.deepStrictEqual(
        changes.map((change) => change.at),
        [0, 31_000, 31_000],
      )
    }),
  )

  it.effect("gobreaker defaults: maxRequests 1, timeout 60 s, trips after more than 5 consecutive failures", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make<string>({ name: "defaults" })
      for (let i = 0; i < 5; i++) yield* fail(breaker, "x")
      assert.strictEqual(yield* breaker.state, "closed")
      yield* fail(breaker, "x")
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust("60001 millis")
      assert.strictEqual(yield* breaker.state, "half-open")
      yield* succeed(breaker)
      assert.strictEqual(yield* breaker.state, "closed")
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(succeed(breaker))))
    }),
  )
  it.effect("execute is dual: data-first and in a pipe", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      assert.strictEqual(yield* CircuitBreaker.execute(Effect.succeed(1), breaker), 1)
      assert.strictEqual(yield* Effect.succeed(2).pipe(CircuitBreaker.execute(breaker)), 2)
      assert.strictEqual(yield* Effect.flip(Effect.fail("x").pipe(CircuitBreaker.execute(breaker))), "x")
      assert.strictEqual((yield* breaker.counts).requests, 3)
    }),
  )

  it.effect("the change stream ends when the breaker's scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const breaker = yield* gatewayLike.pipe(Scope.provide(scope))
      const collected = yield* Effect.forkChild(Stream.runCollect(breaker.changes))
      yield* Effect.yieldNow
      yield* trip(breaker)
      yield* Scope.close(scope, Exit.void)
      const changes = yield* Fiber.join(collected)
      assert.deepStrictEqual(
        changes.map((change) => `${change.from}->${change.to}`),
        ["closed->open"],
      )
    }),
  )

  it.effect("an observer is told of changes and rejections until its scope closes", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      const told: Array<string> = []
      const scope = yield* Scope.make()
      yield* breaker
        .observe({
          onChange: (change) => Effect.sync(() => told.push(`${change.from}->${change.to}`)),
          onRejection: (rejection) => Effect.sync(() => told.push(rejection.reason._tag)),
        })
        .pipe(Scope.provide(scope))
      yield* trip(breaker)
      yield* Effect.flip(breaker.execute(Effect.void))
      yield* Scope.close(scope, Exit.void)
      yield* Effect.flip(breaker.execute(Effect.void))
      assert.deepStrictEqual(told, ["closed->open", "Open"])
    }),
  )

  it.effect("BreakerMetrics: its state over time, its transitions and rejections; a rejection marks the span", () =>
    Effect.gen(function* () {
      const breaker = yield* gatewayLike
      yield* BreakerMetrics.observe(breaker)
      const scrape = Effect.map(PrometheusMetrics.format(), PrometheusText.parse)
      const value = (metrics: PrometheusText.Scrape, name: string, labels: Record<string, string> = {}) =>
        PrometheusText.sum(metrics, name, { breaker: "test", ...labels })
      const fresh = yield* scrape
      assert.strictEqual(value(fresh, "circuit_breaker_state"), 0, "closed, from the start")
      assert.strictEqual(value(fresh, "circuit_breaker_transitions_total", { from: "closed", to: "open" }), 0)
      assert.strictEqual(value(fresh, "circuit_breaker_rejections_total", { reason: "open" }), 0)

      yield* trip(breaker)
      yield* breaker.execute(Effect.void).pipe(Effect.flip, Effect.withSpan("caller"))
      const open = yield* scrape
      assert.strictEqual(value(open, "circuit_breaker_state"), 2)
      assert.strictEqual(value(open, "circuit_breaker_transitions_total", { from: "closed", to: "open" }), 1)
      assert.strictEqual(value(open, "circuit_breaker_rejections_total", { reason: "open" }), 1)
      const [span] = yield* Effect.flatMap(SpanRecorder, (recorder) => recorder.spans)
      assert.deepStrictEqual(span?.events, [
        { name: "breaker.rejected", attributes: { "breaker.name": "test", reason: "open" } },
      ])

      // Time alone half-opens it (strictly after the timeout); reading the state, as a scrape
      // hook does, publishes that.
      yield* TestClock.adjust("30001 millis")
      assert.strictEqual(yield* breaker.state, "half-open")
      const halfOpen = yield* scrape
      assert.strictEqual(value(halfOpen, "circuit_breaker_state"), 1)
      assert.strictEqual(value(halfOpen, "circuit_breaker_transitions_total", { from: "open", to: "half-open" }), 1)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()), Effect.provide(SpanRecorder.layer)),
  )
})
