import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { AuthConfig } from "../src/Config.ts"
import { RefreshTokensRepo } from "../src/persistence/RefreshTokensRepo.ts"
import { Revocations } from "../src/Revocations.ts"

/** One replica's view of sessions revoked by another (straight in the shared repository), on the test clock. */
const Replica = Revocations.layer.pipe(
  Layer.provideMerge(RefreshTokensRepo.layerMemory),
  Layer.provide(AuthConfig.layer),
  Layer.provide(
    ConfigProvider.layer(
      ConfigProvider.fromEnv({ env: { AUTH_TOKEN_TTL_SECONDS: "60", AUTH_REVOCATION_POLL_MS: "1000" } }),
    ),
  ),
)

const session = (repo: RefreshTokensRepo["Service"], family: string) =>
  repo.insert({ user_id: "u", family_id: family, token_hash: Buffer.from(family), ttlSeconds: 3600 })

describe("Revocations", () => {
  it.effect("a session revoked elsewhere is refused after the next look, and forgotten a token lifetime later", () =>
    Effect.gen(function* () {
      const repo = yield* RefreshTokensRepo
      const revocations = yield* Revocations
      yield* session(repo, "a")
      yield* session(repo, "b")
      yield* TestClock.adjust("10 millis")
      yield* repo.revokeFamily("a")
      assert.isFalse(yield* revocations.isRevoked("a"), "not seen before the next look")
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* revocations.isRevoked("a"))
      assert.isFalse(yield* revocations.isRevoked("b"))
      // Its tokens are all expired 60 s later (10 s of overlap kept): nothing left to refuse.
      yield* TestClock.adjust("72 seconds")
      assert.isFalse(yield* revocations.isRevoked("a"), "forgotten")
      assert.isFalse(yield* revocations.isRevoked("b"))
    }).pipe(Effect.provide(Replica)),
  )

  it.effect("this replica's own revocation holds at once", () =>
    Effect.gen(function* () {
      const revocations = yield* Revocations
      yield* revocations.revoke("c")
      assert.isTrue(yield* revocations.isRevoked("c"))
    }).pipe(Effect.provide(Replica)),
  )
})
