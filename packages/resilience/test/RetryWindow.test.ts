import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as RetryBudget from "../src/RetryBudget.ts"
import * as RetryWindow from "../src/RetryWindow.ts"

/**
 * The reference, written from the definitions rather than from the ring: every event kept with
 * its time; "the last window" at time t is the slices (⌊t/slice⌋ - slices, ⌊t/slice⌋]
 * (Finagle's windowed counter); a retry is granted iff the granted retries in it, plus this
 * one, are at most ratio × its requests + minPerSecond × window (Linkerd's retry budget).
 */
const reference = (limits: RetryWindow.Limits) => {
  const n = limits.slices ?? 10
  const sliceMs = limits.windowMs / n
  const events: Array<{ readonly at: number; readonly kind: "request" | "retry" }> = []
  const inWindow = (now: number, kind: "request" | "retry") => {
    const current = Math.floor(now / sliceMs)
    return events.filter((event) => event.kind === kind && Math.floor(event.at / sliceMs) > current - n).length
  }
  return {
    deposit: (now: number) => {
      events.push({ at: now, kind: "request" })
    },
    take: (now: number) => {
      const granted =
        inWindow(now, "retry") + 1 <=
        limits.ratio * inWindow(now, "request") + (limits.minPerSecond * limits.windowMs) / 1000
      if (granted) events.push({ at: now, kind: "retry" })
      return granted
    },
    retriesIn: (from: number, to: number) =>
      events.filter((e) => e.kind === "retry" && e.at > from && e.at <= to).length,
    requestsIn: (from: number, to: number) =>
      events.filter((e) => e.kind === "request" && e.at > from && e.at <= to).length,
  }
}

const limitsArbitrary = fc.record({
  ratio: fc.constantFrom(0, 0.1, 0.2, 0.5, 1),
  minPerSecond: fc.constantFrom(0, 0.5, 1, 10),
  windowMs: fc.constantFrom(1_000, 2_000, 10_000),
  slices: fc.constantFrom(1, 4, 10),
})

const stepsArbitrary = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("request" as const) }),
    fc.record({ kind: fc.constant("retry" as const) }),
    fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 4_000 }) }),
  ),
  { maxLength: 200 },
)

describe("RetryWindow (a ratio retry budget's arithmetic)", () => {
  it("model: grants exactly what the reference grants, for any limits and any run", () => {
    fc.assert(
      fc.property(limitsArbitrary, fc.integer({ min: 0, max: 100_000 }), stepsArbitrary, (limits, start, steps) => {
        const model = reference(limits)
        let window = RetryWindow.empty(limits, start)
        let now = start
        for (const step of steps) {
          if (step.kind === "wait") now += step.ms
          else if (step.kind === "request") {
            window = RetryWindow.deposit(limits, window, now)
            model.deposit(now)
          } else {
            const [granted, next] = RetryWindow.take(limits, window, now)
            window = next
            assert.strictEqual(granted, model.take(now), `retry at ${now}`)
          }
        }
      }),
      { numRuns: 500 },
    )
  })

  it("property: each granted retry leaves the retries of its window within ratio × requests + reserve", () => {
    fc.assert(
      fc.property(limitsArbitrary, stepsArbitrary, (limits, steps) => {
        let window = RetryWindow.empty(limits, 0)
        let now = 0
        const sliceMs = limits.windowMs / limits.slices
        const model = reference(limits)
        for (const step of steps) {
          if (step.kind === "wait") now += step.ms
          else if (step.kind === "request") {
            window = RetryWindow.deposit(limits, window, now)
            model.deposit(now)
          } else {
            const [granted, next] = RetryWindow.take(limits, window, now)
            window = next
            model.take(now)
            if (!granted) continue
            // The window as a span of time: from the start of the oldest slice still in it.
            const from = (Math.floor(now / sliceMs) - limits.slices + 1) * sliceMs - 1
            const bound = limits.ratio * model.requestsIn(from, now) + RetryWindow.reserve(limits)
            assert.isAtMost(model.retriesIn(from, now), bound)
          }
        }
      }),
      { numRuns: 500 },
    )
  })

  it("Linkerd's defaults: a quiet client gets 10/s × 10 s, a busy one 20 % more; old traffic stops counting", () => {
    const limits = { ratio: 0.2, minPerSecond: 10, windowMs: 10_000 }
    let window = RetryWindow.empty(limits, 0)
    let granted = 0
    for (let i = 0; i < 150; i++) {
      const [ok, next] = RetryWindow.take(limits, window, 0)
      window = next
      if (ok) granted++
    }
    assert.strictEqual(granted, 100, "no traffic: the reserve only")
    for (let i = 0; i < 1_000; i++) window = RetryWindow.deposit(limits, window, 500)
    granted = 0
    for (let i = 0; i < 500; i++) {
      const [ok, next] = RetryWindow.take(limits, window, 500)
      window = next
      if (ok) granted++
    }
    assert.strictEqual(granted, 200, "1,000 requests: 200 more retries")
    assert.strictEqual(RetryWindow.available(limits, window, 500)[0], 0)
    assert.strictEqual(RetryWindow.available(limits, window, 10_500)[0], 100, "a window later, all of it expired")
  })
})

describe("RetryBudget.makeRatio", () => {
  it.effect("gates a retry schedule by the share of requests deposited, on the clock", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.makeRatio({ name: "lang", ratio: 0.5, minPerSecond: 0, windowMs: 1_000 })
      assert.deepStrictEqual(budget.policy, {
        mode: "ratio",
        ratio: 0.5,
        minPerSecond: 0,
        windowMs: 1_000,
        slices: undefined,
      })
      const attempts = yield* Ref.make(0)
      const policy = Schedule.recurs(1).pipe(RetryBudget.gate(budget))
      const call = Effect.andThen(
        budget.deposit,
        Effect.ignore(
          Effect.retry(
            Effect.andThen(
              Ref.update(attempts, (n) => n + 1),
              Effect.fail("503"),
            ),
            policy,
          ),
        ),
      )
      for (let i = 0; i < 10; i++) yield* call
      assert.strictEqual(yield* Ref.get(attempts), 15, "10 requests, 5 retries (half of them)")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* budget.tokens, 0, "an empty window, no reserve")
      yield* Ref.set(attempts, 0)
      yield* call
      assert.strictEqual(yield* Ref.get(attempts), 1, "one request is worth half a retry: none yet")
      yield* call
      assert.strictEqual(yield* Ref.get(attempts), 3, "two are worth one")
    }),
  )

  it.effect("property: over any run of failing calls, retries <= ratio × calls + reserve per window begun", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          limitsArbitrary,
          fc.array(
            fc.oneof(
              fc.record({ kind: fc.constant("calls" as const), count: fc.integer({ min: 1, max: 40 }) }),
              fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
            ),
            { maxLength: 30 },
          ),
          (limits, steps) =>
            Effect.runPromise(
              Effect.gen(function* () {
                const budget = yield* RetryBudget.makeRatio(limits)
                const policy = Schedule.recurs(1).pipe(RetryBudget.gate(budget))
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
                    yield* budget.deposit
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
                // A request can count in two consecutive windows, the reserve once per window.
                const windows = Math.floor(elapsedMs / limits.windowMs) + 2
                const retries = (yield* Ref.get(attempts)) - calls
                return (
                  retries >= 0 &&
                  retries <= calls &&
                  retries <= 2 * limits.ratio * calls + windows * RetryWindow.reserve(limits)
                )
              }).pipe(Effect.provide(TestClock.layer())),
            ),
        ),
        { numRuns: 200 },
      ),
    ),
  )
})
