import { assert, describe, it } from "@effect/vitest"
import * as TestServer from "@platform/testkit/TestServer"
import { Duration, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Deadline from "../src/Deadline.ts"
import * as Server from "../src/Server.ts"

describe("Deadline", () => {
  it.effect("within sets a deadline, keeps the sooner of two, and remaining counts down on the clock", () =>
    Effect.gen(function* () {
      assert.isUndefined(yield* Deadline.remaining, "no deadline outside a request")
      const inner = Effect.gen(function* () {
        const first = yield* Deadline.remaining
        yield* TestClock.adjust(40)
        return [first, yield* Deadline.remaining]
      })
      assert.deepStrictEqual(yield* inner.pipe(Deadline.within(100)), [100, 60])
      assert.deepStrictEqual(yield* inner.pipe(Deadline.within(500), Deadline.within(100)), [100, 60], "sooner wins")
      assert.deepStrictEqual(yield* inner.pipe(Deadline.within(100), Deadline.within(500)), [100, 60], "either way")
      assert.strictEqual(yield* Deadline.remaining.pipe(Deadline.within(-5)), 0, "never negative")
    }),
  )

  it.effect("outbound: what is left less the margin, capped by the call's own timeout; nothing left fails", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* Deadline.outbound(1000), 1000, "no deadline: the call's own timeout")
      assert.isUndefined(yield* Deadline.outbound(undefined))
      assert.strictEqual(yield* Deadline.outbound(1000).pipe(Deadline.within(300)), 295)
      assert.strictEqual(yield* Deadline.outbound(100).pipe(Deadline.within(300)), 100)
      assert.strictEqual(yield* Deadline.outbound(undefined, 0).pipe(Deadline.within(300)), 300)
      const spent = yield* Effect.flip(Deadline.outbound(1000).pipe(Deadline.within(5)))
      assert.strictEqual(spent._tag, "DeadlineExceeded")
      assert.strictEqual(spent.message, "the deadline passed before the call could be sent (5 ms left)")
    }),
  )

  it("property: a header value is read back as written, and anything else is invalid, never a number", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 99_999_999 }), (ms) => Deadline.parseHeader(String(ms)) === ms))
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const parsed = Deadline.parseHeader(raw)
        return parsed === "invalid" || (typeof parsed === "number" && /^\s*\d{1,8}\s*$/.test(raw))
      }),
    )
    assert.isUndefined(Deadline.parseHeader(undefined))
    for (const raw of ["", "-1", "1.5", "1e3", "123456789", "10m"])
      assert.strictEqual(Deadline.parseHeader(raw), "invalid", raw)
  })
})

describe("Deadline on the kernel's server (x-request-timeout-ms)", () => {
  const Routes = Layer.mergeAll(
    HttpRouter.add("GET", "/slow", Effect.as(Effect.sleep("2 seconds"), HttpServerResponse.text("slow\n"))),
    HttpRouter.add(
      "GET",
      "/left",
      Effect.map(Deadline.remaining, (left) => HttpServerResponse.text(left === undefined ? "none" : String(left))),
    ),
  )
  const serve = Effect.gen(function* () {
    const context = yield* Layer.build(
      Server.serve(Routes).pipe(
        Layer.provideMerge(Server.layerTest),
        Layer.provide(TestServer.config({ name: "deadline-test", port: 1 }, {})),
      ),
    )
    return yield* TestServer.baseUrl.pipe(Effect.provide(context))
  })
  const get = (url: string, headers: Record<string, string> = {}) =>
    Effect.promise(async () => {
      const response = await fetch(url, { headers })
      return { status: response.status, body: await response.text() }
    })

  it.live("a request runs within its deadline, is answered 504 when it passes, and 400 when malformed", () =>
    Effect.gen(function* () {
      const base = yield* serve
      const left = yield* get(`${base}/left`, { [Deadline.HEADER]: "800" })
      assert.strictEqual(left.status, 200)
      assert.isTrue(Number(left.body) > 700 && Number(left.body) <= 800, `left: ${left.body}`)
      assert.deepStrictEqual(yield* get(`${base}/left`), { status: 200, body: "none" })

      const [took, late] = yield* Effect.timed(get(`${base}/slow`, { [Deadline.HEADER]: "150" }))
      assert.deepStrictEqual(late, { status: 504, body: '{"error":"deadline exceeded"}' })
      assert.isBelow(Duration.toMillis(took), 1000, "answered at the deadline, not after the handler")

      const malformed = yield* get(`${base}/left`, { [Deadline.HEADER]: "soon" })
      assert.deepStrictEqual(malformed, {
        status: 400,
        body: '{"error":"x-request-timeout-ms must be a whole number of milliseconds (at most 8 digits)"}',
      })
    }),
  )
})
