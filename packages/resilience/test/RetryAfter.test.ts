import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as RetryAfter from "../src/RetryAfter.ts"

interface Unavailable {
  readonly retryAfterMs: number | undefined
}

describe("RetryAfter", () => {
  it("parses delay-seconds and HTTP-dates; anything else is no Retry-After", () => {
    const now = Date.parse("Wed, 02 Dec 2026 12:00:00 GMT")
    assert.strictEqual(RetryAfter.parse("3", now), 3000)
    assert.strictEqual(RetryAfter.parse(" 0 ", now), 0)
    assert.strictEqual(RetryAfter.parse("Wed, 02 Dec 2026 12:00:05 GMT", now), 5000)
    assert.strictEqual(RetryAfter.parse("Wed, 02 Dec 2026 11:00:00 GMT", now), 0, "a date in the past: now")
    for (const raw of [undefined, null, "", "-1", "1.5", "soon", "12abc"]) {
      assert.isUndefined(RetryAfter.parse(raw, now), String(raw))
    }
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), (seconds) => RetryAfter.parse(String(seconds), now) === seconds * 1000),
    )
  })

  it.effect("the retry waits at least Retry-After, and is not made when the server asks for more than maxMs", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const failing = (retryAfterMs: number | undefined) =>
        Effect.andThen(
          Ref.update(attempts, (n) => n + 1),
          Effect.fail<Unavailable>({ retryAfterMs }),
        )
      const policy = Schedule.recurs(1).pipe(
        RetryAfter.honour((error: Unavailable) => error.retryAfterMs, { maxMs: 1000 }),
      )
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.retry(failing(300), policy)))
      yield* Effect.yieldNow
      yield* TestClock.adjust(299)
      assert.strictEqual(yield* Ref.get(attempts), 1, "not before 300 ms")
      yield* TestClock.adjust(1)
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.getAndSet(attempts, 0), 2)

      yield* Effect.flip(Effect.retry(failing(5000), policy))
      assert.strictEqual(yield* Ref.getAndSet(attempts, 0), 1, "5 s is past maxMs: no retry")

      const backoff = Schedule.spaced("500 millis").pipe(
        Schedule.upTo({ times: 1 }),
        RetryAfter.honour((error: Unavailable) => error.retryAfterMs, { maxMs: 1000 }),
      )
      const longer = yield* Effect.forkChild(Effect.flip(Effect.retry(failing(100), backoff)))
      yield* Effect.yieldNow
      yield* TestClock.adjust(499)
      assert.strictEqual(yield* Ref.get(attempts), 1, "the schedule's own 500 ms is longer: kept")
      yield* TestClock.adjust(1)
      yield* Fiber.join(longer)
      assert.strictEqual(yield* Ref.get(attempts), 2)
    }),
  )
})
