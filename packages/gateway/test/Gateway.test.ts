import { assert, describe, it } from "@effect/vitest"
import * as Metrics from "@platform/shared/Metrics"
import { ConfigProvider, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { GatewayConfig } from "../src/Config.ts"
import { LangClient } from "../src/clients/LangClient.ts"
import { type AttemptFailure, LangRejected } from "../src/errors.ts"
import { Gateway } from "../src/Gateway.ts"
import { type Invocation, InvocationsRepo } from "../src/persistence/InvocationsRepo.ts"
import { Resilience } from "../src/Resilience.ts"

/**
 * The domain of InvokeCustom with lang played by a script (one answer per attempt) and
 * `invocations` in memory, on the test clock: the contract's breaker, retry and recording rules
 * without a server or a database. The black-box suite checks the same over HTTP.
 */
type Answer = "ok" | "hang" | number

const world = (script: Array<Answer>) => {
  const rows: Array<Invocation> = []
  const attempts: Array<string> = []
  const lang = Layer.succeed(LangClient, {
    invoke: (name) =>
      Effect.suspend((): Effect.Effect<string, AttemptFailure> => {
        attempts.push(name)
        const answer = script.shift() ?? "ok"
        if (answer === "ok") return Effect.succeed(`Hello ${name} from custom-lang-service!`)
        if (answer === "hang") return Effect.never
        return Effect.fail(new LangRejected({ status: answer, message: `custom-lang-service returned ${answer}` }))
      }),
  })
  const layer = Gateway.layer.pipe(
    Layer.provide([lang, InvocationsRepo.layerMemory(rows)]),
    Layer.provideMerge(Resilience.layer),
    Layer.provideMerge(GatewayConfig.layer),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} }))),
    Layer.provide(Metrics.layer),
  )
  return { rows, attempts, layer }
}

const invoke = (name: string) => Effect.flatMap(Gateway, (gateway) => gateway.invoke(name))

describe("Gateway (domain, in memory)", () => {
  it.effect("a success is answered and recorded; an empty name is World", () => {
    const { rows, attempts, layer } = world(["ok"])
    return Effect.gen(function* () {
      assert.strictEqual(yield* invoke(""), "Hello World from custom-lang-service!")
      assert.deepStrictEqual(attempts, ["World"])
      assert.deepStrictEqual(rows, [
        { name: "World", result_message: "Hello World from custom-lang-service!", success: true },
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a retryable failure (503) is retried once, taking a token; a 404 is not retried", () => {
    const { rows, attempts, layer } = world([503, "ok", 404])
    return Effect.gen(function* () {
      const { budget } = yield* Resilience
      assert.strictEqual(yield* invoke("Ada"), "Hello Ada from custom-lang-service!")
      assert.strictEqual(attempts.length, 2)
      assert.strictEqual(yield* budget.tokens, 19)
      const failure = yield* Effect.flip(invoke("Bob"))
      assert.strictEqual(failure._tag, "LangRejected")
      assert.strictEqual(attempts.length, 3, "404 is not retryable")
      assert.deepStrictEqual(
        rows.map((row) => [row.name, row.success, row.result_message]),
        [
          ["Ada", true, "Hello Ada from custom-lang-service!"],
          ["Bob", false, "custom-lang-service returned 404"],
        ],
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("five failures open the breaker: the next call fails at once, unavailable to lang, and is recorded", () => {
    const { rows, attempts, layer } = world([400, 400, 400, 400, 400, "ok", "ok", "ok"])
    return Effect.gen(function* () {
      for (let i = 0; i < 5; i++) yield* Effect.flip(invoke("x"))
      const rejected = yield* Effect.flip(invoke("x"))
      assert.strictEqual(rejected._tag, "BreakerRejected")
      assert.strictEqual(rejected.message, "circuit breaker is open")
      assert.strictEqual(attempts.length, 5, "lang was not called while open")
      assert.strictEqual(rows.at(-1)?.result_message, "circuit breaker is open")
      yield* TestClock.adjust("30001 millis")
      for (let i = 0; i < 3; i++) yield* invoke("x")
      const { breaker } = yield* Resilience
      assert.strictEqual(yield* breaker.state, "closed", "three successes in half-open close it")
    }).pipe(Effect.provide(layer))
  })

  it.effect("an attempt that gets no answer times out after 1 s and is retried once; the timeout is recorded", () => {
    const { rows, attempts, layer } = world(["hang", "hang"])
    return Effect.gen(function* () {
      const call = yield* Effect.forkChild(Effect.flip(invoke("slow")))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      const failure = yield* Fiber.join(call)
      assert.strictEqual(failure._tag, "AttemptTimedOut")
      assert.strictEqual(attempts.length, 2)
      assert.deepStrictEqual(rows, [
        { name: "slow", result_message: "custom-lang-service did not answer within 1s", success: false },
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a name that cannot be recorded is refused before lang is called; a cancelled call is recorded", () => {
    const { rows, attempts, layer } = world(["hang"])
    return Effect.gen(function* () {
      const invalid = yield* Effect.flip(invoke("a\u0000b"))
      assert.strictEqual(invalid._tag, "InvalidName")
      assert.strictEqual(invalid.message, "name must not contain NUL characters")
      const call = yield* Effect.forkChild(invoke("cancelled"))
      // Once the attempt has reached lang (it runs detached from here on), the client goes.
      while (attempts.length === 0) yield* Effect.yieldNow
      yield* Fiber.interrupt(call)
      assert.deepStrictEqual(attempts, ["cancelled"])
      assert.deepStrictEqual(rows, [
        { name: "cancelled", result_message: "the call was cancelled or its deadline passed", success: false },
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "clients that give up before lang answers still let the breaker see lang: it opens after 5 attempts",
    () => {
      const { attempts, layer } = world(Array.from({ length: 20 }, () => "hang" as const))
      return Effect.gen(function* () {
        const { breaker } = yield* Resilience
        // Each client's deadline is 500 ms; lang never answers. Cancelled with its client, each
        // attempt would count as a success and the breaker would stay closed for ever.
        for (let i = 0; i < 5; i++) {
          const call = yield* Effect.forkChild(invoke("slow").pipe(Effect.timeout("500 millis"), Effect.exit))
          yield* TestClock.adjust("500 millis")
          yield* Fiber.join(call)
          // The attempt runs on, detached, to its own 1 s timeout.
          yield* TestClock.adjust("500 millis")
        }
        assert.strictEqual(yield* breaker.state, "open")
        const rejected = yield* Effect.flip(invoke("slow"))
        assert.strictEqual(rejected._tag, "BreakerRejected")
        assert.strictEqual(attempts.length, 5, "no retry within the client's deadline, none while open")
      }).pipe(Effect.provide(layer))
    },
  )
})
