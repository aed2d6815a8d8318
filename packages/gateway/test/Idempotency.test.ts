import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Fiber, Layer, Ref } from "effect"
import { SqlError } from "effect/sql"
import { TestClock } from "effect/testing"
import { GatewayConfig } from "../src/Config.ts"
import { Idempotency, type IdempotencyFailure } from "../src/inbound/Idempotency.ts"
import { IdempotencyRepo } from "../src/persistence/IdempotencyRepo.ts"

/**
 * `Idempotency-Key` on the test clock, with its store in memory: replay, waiting for a call in
 * flight, expiry, reuse for another name, release on cancel, and a store that is down.
 */
const layer = (repo: Layer.Layer<IdempotencyRepo> = IdempotencyRepo.layerMemory) =>
  Idempotency.layer.pipe(
    Layer.provide(repo),
    Layer.provide(GatewayConfig.layer),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { GATEWAY_IDEMPOTENCY_TTL_MS: "60000" } }))),
  )

/** A call that counts its runs, answers `Hello <name>` after `ms`, or fails when the name says so. */
const counted = Effect.gen(function* () {
  const runs = yield* Ref.make(0)
  const call = (name: string, ms = 0) =>
    Ref.update(runs, (n) => n + 1).pipe(
      Effect.andThen(Effect.sleep(ms)),
      Effect.andThen(name === "bad" ? Effect.fail("lang said no" as const) : Effect.succeed(`Hello ${name}`)),
    )
  return { runs, call }
})

const answer = (error: "lang said no") => ({ code: "not_found" as const, message: error })

const run = (key: string, name: string, call: Effect.Effect<string, "lang said no">) =>
  Effect.flatMap(Idempotency, (idempotency) => idempotency.run(key, name, call, answer))

/** What a failed run answered: the call's own failure, or the tag of the idempotency failure. */
const tagOf = (failure: "lang said no" | IdempotencyFailure) => (typeof failure === "string" ? failure : failure._tag)

describe("Idempotency-Key", () => {
  it.effect("a repeat answers the stored outcome without running again, success and failure alike", () =>
    Effect.gen(function* () {
      const { runs, call } = yield* counted
      assert.strictEqual(yield* run("k1", "Ada", call("Ada")), "Hello Ada")
      assert.strictEqual(yield* run("k1", "Ada", call("Ada")), "Hello Ada")
      assert.strictEqual(yield* Ref.get(runs), 1)
      assert.strictEqual(yield* Effect.flip(run("k2", "bad", call("bad"))), "lang said no")
      const replayed = yield* Effect.flip(run("k2", "bad", call("bad")))
      assert.deepStrictEqual(
        typeof replayed !== "string" && replayed._tag === "ReplayedFailure"
          ? [replayed.code, replayed.message]
          : replayed,
        ["not_found", "lang said no"],
      )
      assert.strictEqual(yield* Ref.get(runs), 2)
    }).pipe(Effect.provide(layer())),
  )

  it.effect("the same key for another name is refused", () =>
    Effect.gen(function* () {
      const { call } = yield* counted
      yield* run("k", "Ada", call("Ada"))
      const refused = yield* Effect.flip(run("k", "Bob", call("Bob")))
      assert.strictEqual(tagOf(refused), "IdempotencyKeyReused")
    }).pipe(Effect.provide(layer())),
  )

  it.effect("a repeat while the first still runs waits for its outcome; after 5 s it gives up (aborted)", () =>
    Effect.gen(function* () {
      const { runs, call } = yield* counted
      const first = yield* Effect.forkChild(run("k", "Ada", call("Ada", 1000)))
      yield* Effect.yieldNow
      const second = yield* Effect.forkChild(run("k", "Ada", call("Ada")))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(first), "Hello Ada")
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(yield* Fiber.join(second), "Hello Ada")
      assert.strictEqual(yield* Ref.get(runs), 1)

      const slow = yield* Effect.forkChild(run("slow", "Ada", call("Ada", 60_000)))
      yield* Effect.yieldNow
      const waiting = yield* Effect.forkChild(Effect.flip(run("slow", "Ada", call("Ada"))))
      yield* TestClock.adjust("5100 millis")
      assert.strictEqual(tagOf(yield* Fiber.join(waiting)), "IdempotencyKeyInFlight")
      yield* Fiber.interrupt(slow)
    }).pipe(Effect.provide(layer())),
  )

  it.effect("a stored outcome expires with the key's lifetime; a cancelled call gives its key up", () =>
    Effect.gen(function* () {
      const { runs, call } = yield* counted
      yield* run("k", "Ada", call("Ada"))
      yield* TestClock.adjust("60001 millis")
      yield* run("k", "Ada", call("Ada"))
      assert.strictEqual(yield* Ref.get(runs), 2, "expired: it ran again")

      const cancelled = yield* Effect.forkChild(run("c", "Ada", call("Ada", 10_000)))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(cancelled)
      assert.strictEqual(yield* run("c", "Ada", call("Ada")), "Hello Ada")
      assert.strictEqual(yield* Ref.get(runs), 4, "the key was free again")
    }).pipe(Effect.provide(layer())),
  )

  it.effect("when the store is down every call runs, as if it had no key", () =>
    Effect.gen(function* () {
      const { runs, call } = yield* counted
      yield* run("k", "Ada", call("Ada"))
      yield* run("k", "Ada", call("Ada"))
      assert.strictEqual(yield* Ref.get(runs), 2)
    }).pipe(
      Effect.provide(
        layer(
          Layer.succeed(IdempotencyRepo, {
            find: () => Effect.fail(down),
            reserve: () => Effect.fail(down),
            complete: () => Effect.fail(down),
            release: () => Effect.fail(down),
            purge: () => Effect.fail(down),
          }),
        ),
      ),
    ),
  )
})

const down = new SqlError.SqlError({
  reason: new SqlError.ConnectionError({ cause: new Error("connection refused"), message: "down" }),
})

describe("idempotency keys expire even if never presented again", () => {
  it.effect("purge removes records older than the TTL, and only those", () =>
    Effect.gen(function* () {
      const repo = yield* IdempotencyRepo
      assert.isTrue(yield* repo.reserve("old", "Ada"))
      yield* TestClock.adjust("30 seconds")
      assert.isTrue(yield* repo.reserve("young", "Ada"))
      yield* TestClock.adjust("31 seconds")
      yield* repo.purge(Duration.seconds(60))
      assert.isTrue(yield* repo.reserve("old", "Ada"), "the old key is free again")
      assert.isFalse(yield* repo.reserve("young", "Ada"), "the young one is still held")
    }).pipe(Effect.provide(IdempotencyRepo.layerMemory)),
  )
})
