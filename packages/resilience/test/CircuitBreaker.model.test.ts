import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as CircuitBreaker from "../src/CircuitBreaker.ts"

/**
 * Model-based tests: random sequences of calls that succeed, fail, die or are interrupted,
 * overlapping freely, and of clock advances, run against our breaker and, step by step,
 * against a reference model: a line-by-line transcription of sony/gobreaker's Go code
 * (gobreaker.go: beforeRequest, afterRequest, onSuccess, onFailure, currentState, setState,
 * toNewGeneration). Every answer (admitted, or which rejection) and every observed state and
 * count must agree.
 */

type GoState = "closed" | "half-open" | "open"

interface GoCounts {
  requests: number
  totalSuccesses: number
  totalFailures: number
  consecutiveSuccesses: number
  consecutiveFailures: number
}

interface GoSettings {
  maxRequests: number
  interval: number
  timeout: number
  readyToTrip: (counts: GoCounts) => boolean
}

/** gobreaker's CircuitBreaker, with `now` passed in (time.Time as milliseconds; 0 is the zero time). */
class GoBreaker {
  state: GoState = "closed"
  generation = 0
  counts: GoCounts = {
    requests: 0,
    totalSuccesses: 0,
    totalFailures: 0,
    consecutiveSuccesses: 0,
    consecutiveFailures: 0,
  }
  expiry = 0
  hasExpiry = false

  readonly settings: GoSettings

  constructor(settings: GoSettings, now: number) {
    this.settings = settings
    this.toNewGeneration(now)
  }

  // func (cb *CircuitBreaker) beforeRequest() (uint64, error)
  beforeRequest(now: number): [number, "ErrOpenState" | "ErrTooManyRequests" | undefined] {
    const [state, generation] = this.currentState(now)
    if (state === "open") return [generation, "ErrOpenState"]
    if (state === "half-open" && this.counts.requests >= this.settings.maxRequests) {
      return [generation, "ErrTooManyRequests"]
    }
    this.counts.requests++
    return [generation, undefined]
  }

  // func (cb *CircuitBreaker) afterRequest(before uint64, success bool)
  afterRequest(before: number, success: boolean, now: number) {
    const [state, generation] = this.currentState(now)
    if (generation !== before) return
    if (success) this.onSuccess(state, now)
    else this.onFailure(state, now)
  }

  onSuccess(state: GoState, now: number) {
    switch (state) {
      case "closed":
        this.countSuccess()
        break
      case "half-open":
        this.countSuccess()
        if (this.counts.consecutiveSuccesses >= this.settings.maxRequests) this.setState("closed", now)
        break
    }
  }

  onFailure(state: GoState, now: number) {
    switch (state) {
      case "closed":
        this.countFailure()
        if (this.settings.readyToTrip({ ...this.counts })) this.setState("open", now)
        break
      case "half-open":
        this.setState("open", now)
        break
    }
  }

  // func (cb *CircuitBreaker) currentState(now time.Time) (State, uint64)
  currentState(now: number): [GoState, number] {
    switch (this.state) {
      case "closed":
        if (this.hasExpiry && this.expiry < now) this.toNewGeneration(now)
        break
      case "open":
        if (this.expiry < now) this.setState("half-open", now)
        break
    }
    return [this.state, this.generation]
  }

  setState(state: GoState, now: number) {
    if (this.state === state) return
    this.state = state
    this.toNewGeneration(now)
  }

  toNewGeneration(now: number) {
    this.generation++
    this.counts = { requests: 0, totalSuccesses: 0, totalFailures: 0, consecutiveSuccesses: 0, consecutiveFailures: 0 }
    switch (this.state) {
      case "closed":
        this.hasExpiry = this.settings.interval !== 0
        this.expiry = this.settings.interval === 0 ? 0 : now + this.settings.interval
        break
      case "open":
        this.hasExpiry = true
        this.expiry = now + this.settings.timeout
        break
      default:
        this.hasExpiry = false
        this.expiry = 0
    }
  }

  countSuccess() {
    this.counts.totalSuccesses++
    this.counts.consecutiveSuccesses++
    this.counts.consecutiveFailures = 0
  }

  countFailure() {
    this.counts.totalFailures++
    this.counts.consecutiveFailures++
    this.counts.consecutiveSuccesses = 0
  }
}

type Outcome = "succeed" | "fail" | "die" | "interrupt"

const scenario = fc.record({
  maxRequests: fc.integer({ min: 1, max: 4 }),
  interval: fc.constantFrom(0, 1_000, 5_000),
  timeout: fc.constantFrom(1_000, 3_000),
  trips: fc.integer({ min: 1, max: 5 }),
  commands: fc.array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant("start" as const),
          outcome: fc.constantFrom<Outcome>("succeed", "fail", "die", "interrupt"),
        }),
      },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("finish" as const), index: fc.nat() }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant("advance" as const),
          ms: fc.oneof(
            fc.constantFrom(0, 1, 999, 1_000, 1_001, 3_000, 3_001, 5_001),
            fc.integer({ min: 0, max: 7_000 }),
          ),
        }),
      },
      // To the current expiry (end of the counting window or of the open timeout), or 1 ms either side.
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("boundary" as const), delta: fc.constantFrom(-1, 0, 1) }) },
      { weight: 1, arbitrary: fc.constant({ kind: "observe" as const }) },
    ),
    { maxLength: 60 },
  ),
})

type Scenario = typeof scenario extends fc.Arbitrary<infer A> ? A : never

interface Pending {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly gate: Deferred.Deferred<Outcome>
  readonly outcome: Outcome
  readonly generation: number
}

/** Lets forked fibers run until `done` holds (they only wait on each other and on gates). */
const settle = (done: Effect.Effect<boolean>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 50 && !(yield* done); i++) yield* Effect.yieldNow
  })

const run = ({ maxRequests, interval, timeout, trips, commands }: Scenario) =>
  Effect.gen(function* () {
    const readyToTrip = (counts: { consecutiveFailures: number }) => counts.consecutiveFailures >= trips
    const breaker = yield* CircuitBreaker.make<string>({ name: "model", maxRequests, interval, timeout, readyToTrip })
    let now = 0
    const model = new GoBreaker({ maxRequests, interval, timeout, readyToTrip }, now)
    const pending: Array<Pending> = []

    const compare = (step: number) =>
      Effect.gen(function* () {
        const [state] = model.currentState(now)
        assert.strictEqual(yield* breaker.state, state, `state after step ${step}`)
        assert.deepStrictEqual(yield* breaker.counts, { ...model.counts }, `counts after step ${step}`)
      })

    for (const [step, command] of commands.entries()) {
      switch (command.kind) {
        case "start": {
          const [generation, rejection] = model.beforeRequest(now)
          const gate = yield* Deferred.make<Outcome>()
          const started = yield* Ref.make(false)
          const fiber = yield* Effect.forkChild(
            breaker.execute(
              Effect.gen(function* () {
                yield* Ref.set(started, true)
                const outcome = yield* Deferred.await(gate)
                if (outcome === "fail") return yield* Effect.fail("failed")
                if (outcome === "die") return yield* Effect.die("died")
                return "done"
              }),
            ),
          )
          yield* settle(Effect.map(Ref.get(started), (s) => s || fiber.pollUnsafe() !== undefined))
          if (rejection === undefined) {
            assert.isTrue(yield* Ref.get(started), `step ${step}: admitted by the model`)
            pending.push({ fiber, gate, outcome: command.outcome, generation })
          } else {
            const exit = yield* Fiber.await(fiber)
            const expected = rejection === "ErrOpenState" ? "Open" : "TooManyRequests"
            assert.strictEqual(exit._tag, "Failure", `step ${step}: rejected by the model`)
            if (exit._tag === "Failure") {
              const error = exit.cause.reasons[0]
              const rejected = error?._tag === "Fail" ? (error.error as CircuitBreaker.BreakerRejected) : undefined
              assert.strictEqual(rejected?.reason._tag, expected)
            }
          }
          break
        }
        case "finish": {
          if (pending.length === 0) break
          const [call] = pending.splice(command.index % pending.length, 1)
          if (call === undefined) break
          if (call.outcome === "interrupt") {
            yield* Fiber.interrupt(call.fiber)
          } else {
            yield* Deferred.succeed(call.gate, call.outcome)
            yield* Fiber.await(call.fiber)
          }
          // gobreaker's Execute: success when the request returned no error; a panic is a failure.
          // Cancellation counts as success (the contract's isSuccessful).
          model.afterRequest(call.generation, call.outcome === "succeed" || call.outcome === "interrupt", now)
          break
        }
        case "advance": {
          yield* TestClock.adjust(command.ms)
          now += command.ms
          break
        }
        case "boundary": {
          if (!model.hasExpiry) break
          const ms = Math.max(0, model.expiry - now + command.delta)
          yield* TestClock.adjust(ms)
          now += ms
          break
        }
        case "observe":
          yield* compare(step)
      }
    }
    yield* compare(commands.length)
    for (const call of pending) yield* Fiber.interrupt(call.fiber)
  })

describe("CircuitBreaker against a transcription of gobreaker", () => {
  it.effect("agrees on every admission, rejection, state and count over 1,000 random sequences", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(scenario, (generated) =>
          Effect.runPromise(run(generated).pipe(Effect.scoped, Effect.provide(TestClock.layer()))),
        ),
        { numRuns: 1000 },
      ),
    ),
  )
})
