import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as VerdictCache from "../src/middleware/VerdictCache.ts"

/** A bearer header for a token whose claims are `claims` (the cache reads `exp`, it never verifies). */
const bearer = (claims: Record<string, unknown>) => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
  return `Bearer ${part({ alg: "RS256" })}.${part(claims)}.signature`
}

const TTL = 1000

type Op =
  | { readonly _tag: "keep"; readonly token: number }
  | { readonly _tag: "get"; readonly token: number }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "answered"; readonly method: string; readonly path: string; readonly status: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("keep" as const), token: fc.nat(5) }),
  fc.record({ _tag: fc.constant("get" as const), token: fc.nat(5) }),
  fc.record({ _tag: fc.constant("advance" as const), ms: fc.nat(700) }),
  fc.record({
    _tag: fc.constant("answered" as const),
    method: fc.constantFrom("POST", "GET"),
    path: fc.constantFrom("/auth/logout", "/auth/refresh", "/auth/login", "/auth/logout?x=1"),
    status: fc.constantFrom(200, 204, 401, 503),
  }),
)

describe("VerdictCache", () => {
  it("a verdict is given back exactly while it is younger than the TTL, the token unexpired, and no session ended since", () => {
    fc.assert(
      fc.property(
        // Each token's `exp` in seconds from the start (some already expired, some without one).
        fc.array(fc.option(fc.integer({ min: -1, max: 5 }), { nil: undefined }), { minLength: 6, maxLength: 6 }),
        fc.array(op, { maxLength: 60 }),
        (expiries, ops) => {
          const start = 1_700_000_000_000
          const tokens = expiries.map((exp, i) =>
            bearer(exp === undefined ? { sub: `u${i}` } : { sub: `u${i}`, exp: start / 1000 + exp }),
          )
          const cache = VerdictCache.make({ ttlMs: TTL })
          const keptAt = new Map<number, number>()
          let now = start
          for (const step of ops) {
            if (step._tag === "advance") now += step.ms
            else if (step._tag === "keep") {
              cache.keep(tokens[step.token] as string, { "x-user-id": `u${step.token}` }, now, cache.epoch())
              keptAt.set(step.token, now)
            } else if (step._tag === "answered") {
              cache.answered(step.method, step.path, step.status)
              if (VerdictCache.revokes(step.method, step.path, step.status)) keptAt.clear()
            } else {
              const got = cache.get(tokens[step.token] as string, now)
              const at = keptAt.get(step.token)
              const exp = expiries[step.token]
              const fresh = at !== undefined && now < at + TTL && (exp === undefined || now < start + exp * 1000)
              assert.strictEqual(got !== undefined, fresh)
              if (got !== undefined) assert.deepStrictEqual(got, { "x-user-id": `u${step.token}` })
            }
          }
        },
      ),
    )
  })

  it("what ends a session: any logout, a refused refresh; not a login, not a refresh that succeeds", () => {
    assert.isTrue(VerdictCache.revokes("POST", "/auth/logout", 204))
    assert.isTrue(VerdictCache.revokes("POST", "/auth/logout?x=1", 400))
    assert.isTrue(VerdictCache.revokes("POST", "/auth/refresh", 401))
    assert.isFalse(VerdictCache.revokes("POST", "/auth/refresh", 200))
    assert.isFalse(VerdictCache.revokes("POST", "/auth/login", 200))
    assert.isFalse(VerdictCache.revokes("GET", "/auth/logout", 204))
  })

  it("keeps at most maxEntries tokens, the oldest verdict going first", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.nat(40), { maxLength: 200 }), (max, kept) => {
        const cache = VerdictCache.make({ ttlMs: TTL, maxEntries: max })
        for (const token of kept) {
          cache.keep(bearer({ sub: `u${token}` }), {}, 0, cache.epoch())
          assert.isAtMost(cache.size(), max)
        }
        // The last `max` distinct tokens kept are the ones still there.
        const newest = [...new Set([...kept].reverse())].slice(0, max)
        for (const token of newest) assert.isDefined(cache.get(bearer({ sub: `u${token}` }), 1))
      }),
    )
  })

  it("a yes asked for before a session ended is not kept after it (a verify in flight during a logout)", () => {
    const cache = VerdictCache.make({ ttlMs: TTL })
    const token = bearer({ sub: "u" })
    const asked = cache.epoch()
    cache.answered("POST", "/auth/logout", 204)
    cache.keep(token, {}, 0, asked)
    assert.isUndefined(cache.get(token, 1))
    cache.keep(token, {}, 0, cache.epoch())
    assert.isDefined(cache.get(token, 1))
  })

  it("a TTL of 0 keeps nothing: every request asks auth", () => {
    const cache = VerdictCache.make({ ttlMs: 0 })
    cache.keep(bearer({ sub: "u" }), {}, 0, cache.epoch())
    assert.strictEqual(cache.size(), 0)
    assert.isUndefined(cache.get(bearer({ sub: "u" }), 0))
  })
})
