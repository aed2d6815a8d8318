import { assert, describe, it } from "@effect/vitest"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer, Logger, type Tracer } from "effect"
import * as Logging from "../src/Logging.ts"

const capture = () => {
  const lines: Array<Record<string, unknown>> = []
  const layer = Logger.layer([
    Logging.jsonLogger("demo", (line) => {
      assert.isTrue(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "one line per entry")
      lines.push(JSON.parse(line))
    }),
  ])
  return { lines, layer }
}

describe("Logging", () => {
  it.effect("one JSON object per line with time, level, service and message", () =>
    Effect.gen(function* () {
      const { lines, layer } = capture()
      yield* Effect.logInfo("hello", 42).pipe(Effect.annotateLogs("user", "ada"), Effect.provide(layer))
      assert.strictEqual(lines.length, 1)
      const [line] = lines
      assert.strictEqual(line?.level, "info")
      assert.strictEqual(line?.service, "demo")
      assert.strictEqual(line?.message, "hello 42")
      assert.strictEqual(line?.user, "ada")
      assert.isFalse(Number.isNaN(Date.parse(String(line?.time))))
      assert.notProperty(line, "trace_id")
    }),
  )

  it.effect("inside a span the line carries its trace and span ids", () =>
    Effect.gen(function* () {
      const { lines, layer } = capture()
      const span = yield* Effect.gen(function* () {
        yield* Effect.logWarning("inside")
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("work"), Effect.provide(layer))
      assert.strictEqual(lines[0]?.trace_id, (span as Tracer.Span).traceId)
      assert.strictEqual(lines[0]?.span_id, span.spanId)
      assert.strictEqual(lines[0]?.level, "warn")
    }),
  )

  it.effect("a failure's cause is rendered under `error`", () =>
    Effect.gen(function* () {
      const { lines, layer } = capture()
      yield* Effect.logError("boom", new Error("the disk is full")).pipe(Effect.provide(layer))
      assert.include(String(lines[0]?.message), "boom")
      yield* Effect.fail(new Error("kaput")).pipe(
        Effect.catchCause((cause) => Effect.logError("failed", cause)),
        Effect.provide(layer),
      )
      assert.include(String(lines[1]?.error), "kaput")
    }),
  )

  it.effect("LOG_LEVEL filters what is written", () =>
    Effect.gen(function* () {
      const written: Array<string> = []
      const program = Effect.gen(function* () {
        yield* Effect.logDebug("debug line")
        yield* Effect.logInfo("info line")
        yield* Effect.logError("error line")
      })
      const levels: Record<string, ReadonlyArray<string>> = {
        warn: ["error line"],
        debug: ["debug line", "info line", "error line"],
      }
      for (const [level, expected] of Object.entries(levels)) {
        written.length = 0
        yield* program.pipe(
          Effect.provide(
            Logging.layerWriting((line) => written.push(JSON.parse(line).message)).pipe(
              Layer.provide(TestServer.config({ name: "demo", port: 1 }, { LOG_LEVEL: level })),
            ),
          ),
        )
        assert.deepStrictEqual(written, expected)
      }
    }),
  )
})
