import { randomBytes } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import * as fc from "fast-check"
import type { JWK } from "jose"
import * as KeyVault from "../src/KeyVault.ts"

const jwkArbitrary = fc.record({
  kty: fc.constant("RSA"),
  n: fc.base64String({ minLength: 4 }),
  e: fc.constantFrom("AQAB", "Aw"),
  d: fc.base64String({ minLength: 4 }),
})

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect)

describe("KeyVault", () => {
  it("opens what it sealed, and the sealed text holds none of the key", async () => {
    const vault = KeyVault.make(Option.some(new Uint8Array(randomBytes(32))))
    await fc.assert(
      fc.asyncProperty(jwkArbitrary, async (jwk) => {
        const sealed = await Effect.runPromise(vault.seal(jwk as JWK))
        assert.isTrue(vault.isSealed(sealed))
        assert.notInclude(sealed, jwk.d)
        assert.deepStrictEqual(await Effect.runPromise(vault.open(sealed)), jwk)
      }),
      { numRuns: 50 },
    )
  })

  it("refuses a sealed key with another key, no key, or one altered byte", async () => {
    const vault = KeyVault.make(Option.some(new Uint8Array(randomBytes(32))))
    const sealed = await Effect.runPromise(vault.seal({ kty: "RSA", n: "AAAA", e: "AQAB", d: "BBBB" }))
    const other = KeyVault.make(Option.some(new Uint8Array(randomBytes(32))))
    const none = KeyVault.make(Option.none())
    const parts = sealed.split(".")
    const cipher = parts[3] ?? ""
    const flipped = `${cipher[0] === "A" ? "B" : "A"}${cipher.slice(1)}`
    const altered = [...parts.slice(0, 3), flipped, parts[4]].join(".")
    for (const [who, attempt] of [
      ["another key", other.open(sealed)],
      ["no key", none.open(sealed)],
      ["altered", vault.open(altered)],
    ] as const) {
      const exit = await run(attempt)
      assert.isTrue(Exit.isFailure(exit), who)
      assert.match(String(exit), /AUTH_KEY_ENCRYPTION_KEY/, who)
    }
  })

  it("without a key, stores JWK text; a plain stored key opens either way", async () => {
    const plainVault = KeyVault.make(Option.none())
    const jwk = { kty: "RSA", n: "AAAA", e: "AQAB", d: "BBBB" }
    const stored = await Effect.runPromise(plainVault.seal(jwk))
    assert.isFalse(plainVault.isSealed(stored))
    const sealing = KeyVault.make(Option.some(new Uint8Array(randomBytes(32))))
    assert.deepStrictEqual(await Effect.runPromise(sealing.open(stored)), jwk)
    assert.isTrue(Exit.isFailure(await run(plainVault.open("not json"))))
  })
})
