import { assert, describe, it } from "@effect/vitest"
import type { RpcCode } from "@platform/contracts/RpcCode"
import { ConfigProvider, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { GreeterConfig } from "../src/Config.ts"
import { CallerClient } from "../src/clients/CallerClient.ts"
import { CallerFailed, CallerRejected, CallerUnreachable } from "../src/errors.ts"
import { Greeter } from "../src/Greeter.ts"
import { codeOf } from "../src/inbound/Connect.ts"
import { type Greeting, GreetingsRepo } from "../src/persistence/GreetingsRepo.ts"

/**
 * Greet's domain with caller played by a test layer and `greetings` in memory, on the test
 * clock; `codeOf` is the Connect adapter's table, checked on what the domain fails with.
 */
const world = (caller: CallerClient["Service"]) => {
  const rows: Array<Greeting> = []
  const layer = Greeter.layer.pipe(
    Layer.provide([Layer.succeed(CallerClient, caller), GreetingsRepo.layerMemory(rows)]),
    Layer.provide(GreeterConfig.layer),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { EXTERNAL_API_URL: "http://x.test/" } }))),
  )
  return { rows, layer }
}

const greet = (name: string) => Effect.flatMap(Greeter, (greeter) => greeter.greet(name))

describe("Greeter (domain, in memory)", () => {
  it.effect("greets with caller's status and length, and records the greeting before answering", () => {
    const { rows, layer } = world({ callExternal: () => Effect.succeed({ statusCode: 404, bodyLength: 9 }) })
    return Effect.gen(function* () {
      assert.deepStrictEqual(yield* greet(""), {
        message: "Hello World from greeter-service!",
        externalStatus: 404,
        externalBodyLength: 9,
      })
      assert.deepStrictEqual(rows, [
        { name: "World", message: "Hello World from greeter-service!", external_status: 404 },
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("caller's own code passes through unchanged, whatever it is", () =>
    Effect.gen(function* () {
      const codes: ReadonlyArray<RpcCode> = ["invalid_argument", "permission_denied", "resource_exhausted", "internal"]
      for (const code of codes) {
        const failing = new CallerFailed({ reason: new CallerRejected({ code, message: `caller: ${code}` }) })
        const { rows, layer } = world({ callExternal: () => Effect.fail(failing) })
        const failure = yield* Effect.flip(greet("Ada")).pipe(Effect.provide(layer))
        assert.strictEqual(codeOf(failure), code)
        assert.strictEqual(failure.message, `caller: ${code}`)
        assert.deepStrictEqual(rows, [], "no greeting without caller's answer")
      }
      const unreachable = new CallerFailed({ reason: new CallerUnreachable({ message: "refused" }) })
      const { layer } = world({ callExternal: () => Effect.fail(unreachable) })
      assert.strictEqual(codeOf(yield* Effect.flip(greet("Ada")).pipe(Effect.provide(layer))), "unavailable")
    }),
  )

  it.effect("caller not answering within 2 s is deadline_exceeded", () => {
    const { layer } = world({ callExternal: () => Effect.never })
    return Effect.gen(function* () {
      const call = yield* Effect.forkChild(Effect.flip(greet("Ada")))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const failure = yield* Fiber.join(call)
      assert.strictEqual(codeOf(failure), "deadline_exceeded")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a name that cannot be recorded is invalid_argument, and caller is not called", () => {
    let called = false
    const { layer } = world({
      callExternal: () =>
        Effect.sync(() => {
          called = true
          return { statusCode: 200, bodyLength: 0 }
        }),
    })
    return Effect.gen(function* () {
      const failure = yield* Effect.flip(greet("x".repeat(256)))
      assert.strictEqual(codeOf(failure), "invalid_argument")
      assert.strictEqual(failure.message, "name must be at most 255 characters long")
      assert.isFalse(called)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a greeting that cannot be recorded is logged, and the answer still goes out", () => {
    const layer = Greeter.layer.pipe(
      Layer.provide([
        Layer.succeed(CallerClient, { callExternal: () => Effect.succeed({ statusCode: 200, bodyLength: 1 }) }),
        Layer.succeed(GreetingsRepo, { insert: () => Effect.die(new Error("database is down")) }),
      ]),
      Layer.provide(GreeterConfig.layer),
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} }))),
    )
    return Effect.gen(function* () {
      assert.strictEqual((yield* greet("Ada")).message, "Hello Ada from greeter-service!")
    }).pipe(Effect.provide(layer))
  })
})
