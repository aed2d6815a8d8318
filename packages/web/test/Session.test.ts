import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { makeSession, type Tokens } from "../src/Session.ts"

const memory = () => {
  const items = new Map<string, string>()
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  }
}

const signedIn: Tokens = { email: "ada@example.com", token: "access-1", refreshToken: "refresh-1" }

describe("Session", () => {
  it("property: however many calls were refused with one token, one refresh serves them all", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), async (calls) => {
        let refreshes = 0
        const session = makeSession({
          refresh: async (refreshToken) => {
            refreshes += 1
            await new Promise((resolve) => setTimeout(resolve, 1))
            return { token: `access-of-${refreshToken}`, refreshToken: "refresh-2" }
          },
        })
        session.signIn(signedIn)
        const fresh = await Promise.all(Array.from({ length: calls }, () => session.refresh("access-1")))
        assert.strictEqual(refreshes, 1)
        assert.isTrue(fresh.every((tokens) => tokens?.token === "access-of-refresh-1"))
        // A call refused with the old token after the refresh gets the new one, no second refresh.
        assert.strictEqual((await session.refresh("access-1"))?.token, "access-of-refresh-1")
        assert.strictEqual(refreshes, 1)
      }),
      { numRuns: 50 },
    )
  })

  it("a refresh that fails signs out; a reload stays signed in until then", async () => {
    const storage = memory()
    const first = makeSession({ refresh: () => Promise.reject(new Error("invalid refresh token")), storage })
    first.signIn(signedIn)
    const reloaded = makeSession({ refresh: () => Promise.reject(new Error("invalid refresh token")), storage })
    assert.deepStrictEqual(reloaded.current(), signedIn)
    let notified = 0
    reloaded.subscribe(() => {
      notified += 1
    })
    assert.isUndefined(await reloaded.refresh("access-1"))
    assert.isUndefined(reloaded.current())
    assert.strictEqual(notified, 1)
    assert.isUndefined(makeSession({ refresh: () => Promise.reject(), storage }).current())
  })

  it("something else in storage is no session", () => {
    const storage = memory()
    storage.setItem("effect-platform.session", '{"token": 42}')
    assert.isUndefined(makeSession({ refresh: () => Promise.reject(), storage }).current())
    storage.setItem("effect-platform.session", "not json")
    assert.isUndefined(makeSession({ refresh: () => Promise.reject(), storage }).current())
  })
})
