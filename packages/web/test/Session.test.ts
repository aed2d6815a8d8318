import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { makeSession, type Tokens } from "../src/Session.ts"

const memory = () => {
  const items = new Map<string, string>()
  return {
    items,
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  }
}

const signedIn: Tokens = { email: "ada@example.com", token: "access-1" }

describe("Session", () => {
  it("property: however many calls were refused with one token, one refresh serves them all", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), async (calls) => {
        let refreshes = 0
        const session = makeSession({
          refresh: async () => {
            refreshes += 1
            await new Promise((resolve) => setTimeout(resolve, 1))
            return { token: `access-${refreshes + 1}` }
          },
        })
        session.signIn(signedIn)
        const fresh = await Promise.all(Array.from({ length: calls }, () => session.refresh("access-1")))
        assert.strictEqual(refreshes, 1)
        assert.isTrue(fresh.every((tokens) => tokens?.token === "access-2"))
        // A call refused with the old token after the refresh gets the new one, no second refresh.
        assert.strictEqual((await session.refresh("access-1"))?.token, "access-2")
        assert.strictEqual(refreshes, 1)
      }),
      { numRuns: 50 },
    )
  })

  it("keeps no token in storage: only the email, which a reload resumes with the cookie", async () => {
    const storage = memory()
    const first = makeSession({ refresh: async () => ({ token: "unused" }), storage })
    first.signIn(signedIn)
    assert.deepStrictEqual([...storage.items.values()], [JSON.stringify({ email: "ada@example.com" })])
    assert.notInclude(JSON.stringify([...storage.items]), "access-1")

    let refreshes = 0
    const reloaded = makeSession({
      refresh: async () => {
        refreshes += 1
        return { token: "access-after-reload" }
      },
      storage,
    })
    assert.isUndefined(reloaded.current(), "nothing until the cookie has answered")
    const [a, b] = await Promise.all([reloaded.resume(), reloaded.resume()])
    assert.deepStrictEqual(a, { email: "ada@example.com", token: "access-after-reload" })
    assert.strictEqual(b, a)
    assert.strictEqual(refreshes, 1)
    assert.deepStrictEqual(reloaded.current(), a)
  })

  it("a failed refresh or resume signs out; never signed in, resume asks nothing", async () => {
    const storage = memory()
    makeSession({ refresh: async () => ({ token: "x" }), storage }).signIn(signedIn)
    const gone = makeSession({ refresh: () => Promise.reject(new Error("invalid refresh token")), storage })
    let notified = 0
    gone.subscribe(() => {
      notified += 1
    })
    assert.isUndefined(await gone.resume())
    assert.isUndefined(gone.current())
    assert.strictEqual(notified, 1)
    assert.strictEqual(storage.items.size, 0, "the email is forgotten with the session")

    const live = makeSession({ refresh: () => Promise.reject(new Error("invalid refresh token")), storage })
    live.signIn(signedIn)
    assert.isUndefined(await live.refresh("access-1"))
    assert.isUndefined(live.current())

    let asked = false
    const fresh = makeSession({
      refresh: async () => {
        asked = true
        return { token: "x" }
      },
      storage: memory(),
    })
    assert.isUndefined(await fresh.resume())
    assert.isFalse(asked)
  })

  it("something else in storage is no session", async () => {
    const storage = memory()
    let asked = 0
    const refresh = async () => {
      asked += 1
      return { token: "x" }
    }
    storage.setItem("effect-platform.session", '{"email": 42}')
    assert.isUndefined(await makeSession({ refresh, storage }).resume())
    storage.setItem("effect-platform.session", "not json")
    assert.isUndefined(await makeSession({ refresh, storage }).resume())
    assert.strictEqual(asked, 0)
  })
})
