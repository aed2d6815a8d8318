import { assert, describe, layer } from "@effect/vitest"
import type * as ExternalStub from "@platform/platform/ExternalStub"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { Context, Duration, Effect, Exit, Fiber, Layer } from "effect"
import { GreeterConfig, type Settings } from "../src/Config.ts"
import { CallerClient } from "../src/clients/CallerClient.ts"
import * as CallerWorld from "./CallerWorld.ts"

/** A real caller (framed and JSON RPC on loopback) and the external stand-in it fetches. */
class World extends Context.Service<World, { readonly callerUrl: string; readonly stub: ExternalStub.ExternalStub }>()(
  "test/BatchingWorld",
) {}

const WorldLive = Layer.effect(World, CallerWorld.start("greeter_batching_caller"))

/** greeter's Effect RPC client of caller, with `window` as its batch window. */
const clientFor = (callerBaseUrl: string, window: Duration.Duration) => {
  const settings: Settings = {
    callerBaseUrl,
    externalApiUrl: "http://127.0.0.1:1/",
    callerProtocol: "rpc",
    callerDeadline: Duration.seconds(5),
    callerMaxConcurrent: 256,
    callerMaxQueued: 256,
    callerBatchWindow: window,
  }
  return Layer.build(CallerClient.rpc.pipe(Layer.provide(Layer.succeed(GreeterConfig, settings)))).pipe(
    Effect.map((context) => Context.get(context, CallerClient)),
  )
}

/** HTTP requests caller has answered on a route so far. */
const requestsOn = (callerUrl: string, route: string) =>
  Effect.promise(async () => {
    const text = await (await fetch(`${callerUrl}/metrics`)).text()
    return PrometheusText.sum(PrometheusText.parse(text), "http_server_requests_total", { route })
  })

layer(WorldLive, { excludeTestServices: true, timeout: "60 seconds" })("greeter's calls to caller", (it) => {
  describe("share an HTTP request only when they crowd in", () => {
    it.effect("a lone call is sent at once, even with a long window", () =>
      Effect.gen(function* () {
        const world = yield* World
        const client = yield* clientFor(world.callerUrl, Duration.seconds(5))
        const started = Date.now()
        const result = yield* client.callExternal(world.stub.url)
        assert.strictEqual(result.statusCode, 200)
        assert.isBelow(Date.now() - started, 2000, "it did not wait for the 5 s window")
      }),
    )

    it.effect("calls made one after another each go at once: an answered call is not out", () =>
      Effect.gen(function* () {
        const world = yield* World
        const client = yield* clientFor(world.callerUrl, Duration.seconds(5))
        const started = Date.now()
        for (let i = 0; i < 5; i++) assert.strictEqual((yield* client.callExternal(world.stub.url)).statusCode, 200)
        assert.isBelow(Date.now() - started, 2000, "no call waited for the 5 s window")
      }),
    )

    it.effect("a call given up on is no longer out: the next one goes at once", () =>
      Effect.gen(function* () {
        const world = yield* World
        const client = yield* clientFor(world.callerUrl, Duration.seconds(5))
        const given = yield* Effect.exit(
          Effect.timeout(client.callExternal(`${world.stub.url}/slow/3000`), "100 millis"),
        )
        assert.isTrue(Exit.isFailure(given))
        const started = Date.now()
        assert.strictEqual((yield* client.callExternal(world.stub.url)).statusCode, 200)
        assert.isBelow(Date.now() - started, 2000, "it did not wait for the 5 s window")
      }),
    )

    it.effect("calls made while one is out go together; each answer comes as its call completes", () =>
      Effect.gen(function* () {
        const world = yield* World
        const client = yield* clientFor(world.callerUrl, Duration.millis(50))
        const before = yield* requestsOn(world.callerUrl, "/rpc/ndjson")
        // One slow call is out (alone, at once); ten more arrive meanwhile, one of them slow too.
        const first = yield* Effect.forkChild(client.callExternal(`${world.stub.url}/slow/1500`))
        yield* Effect.sleep("100 millis")
        const started = Date.now()
        const slow = yield* Effect.forkChild(client.callExternal(`${world.stub.url}/slow/1500`))
        const quick = yield* Effect.forEach(
          Array.from({ length: 9 }, () => Effect.timed(client.callExternal(world.stub.url))),
          (call) => call,
          { concurrency: "unbounded" },
        )
        for (const [took, result] of quick) {
          assert.strictEqual(result.statusCode, 200)
          // In the same request as a call that takes 1.5 s, and answered long before it.
          assert.isBelow(Duration.toMillis(took), 1000)
        }
        assert.isBelow(Date.now() - started, 1000)
        assert.strictEqual((yield* Fiber.join(slow)).statusCode, 200)
        assert.strictEqual((yield* Fiber.join(first)).statusCode, 200)
        // The first call alone, the other ten in one request.
        assert.strictEqual((yield* requestsOn(world.callerUrl, "/rpc/ndjson")) - before, 2)
      }),
    )

    it.effect("a window of 0 sends every call in its own JSON request, as before", () =>
      Effect.gen(function* () {
        const world = yield* World
        const client = yield* clientFor(world.callerUrl, Duration.zero)
        const before = yield* requestsOn(world.callerUrl, "/rpc")
        yield* Effect.forEach(
          Array.from({ length: 5 }, () => client.callExternal(world.stub.url)),
          (call) => call,
          { concurrency: "unbounded" },
        )
        assert.strictEqual((yield* requestsOn(world.callerUrl, "/rpc")) - before, 5)
      }),
    )

    it.effect("a request that fails fails every call it carried, as unreachable", () =>
      Effect.gen(function* () {
        const client = yield* clientFor("http://127.0.0.1:1", Duration.millis(20))
        const exits = yield* Effect.forEach(
          Array.from({ length: 5 }, () => Effect.exit(client.callExternal("http://127.0.0.1:2/"))),
          (call) => call,
          { concurrency: "unbounded" },
        )
        for (const exit of exits) {
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) assert.include(JSON.stringify(exit.cause), "CallerUnreachable")
        }
      }),
    )
  })
})
