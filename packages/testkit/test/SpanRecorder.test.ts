import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SpanRecorder } from "../src/SpanRecorder.ts"

describe("SpanRecorder", () => {
  it.effect("the in-memory recorder sees every ended span with its parent link", () =>
    Effect.gen(function* () {
      const recorder = yield* SpanRecorder
      yield* Effect.void.pipe(Effect.withSpan("child"), Effect.withSpan("parent", { kind: "server" }))
      const spans = yield* recorder.spans
      const [child, parent] = spans
      assert.deepStrictEqual(
        spans.map((span) => span.name),
        ["child", "parent"],
      )
      assert.strictEqual(child?.traceId, parent?.traceId)
      assert.strictEqual(child?.parentSpanId, parent?.spanId)
      assert.isUndefined(parent?.parentSpanId)
      assert.strictEqual(parent?.kind, "server")
    }).pipe(Effect.provide(SpanRecorder.layer)),
  )
})
