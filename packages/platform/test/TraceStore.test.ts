import { assert, describe, it } from "@effect/vitest"
import type { ExportTraceServiceRequest, OtlpSpan } from "@platform/contracts/DashboardApi"
import { Effect, Option } from "effect"
import fc from "fast-check"
import { TraceStore } from "../src/dashboard/TraceStore.ts"

const NS = 1_000_000n
const at = (ms: number) => String(BigInt(1_800_000_000_000 + ms) * NS)

const span = (traceId: string, spanId: string, options: Partial<OtlpSpan> & { from: number; to: number }): OtlpSpan => {
  const { from, to, ...rest } = options
  return { traceId, spanId, name: spanId, kind: 1, startTimeUnixNano: at(from), endTimeUnixNano: at(to), ...rest }
}

const batch = (service: string, spans: ReadonlyArray<OtlpSpan>): ExportTraceServiceRequest => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
      scopeSpans: [{ spans }],
    },
  ],
})

const route = (value: string) => [{ key: "http.route", value: { stringValue: value } }]

describe("TraceStore", () => {
  it.effect("one trace from several services' batches: the root, every hop in order, times from its start", () =>
    Effect.gen(function* () {
      const store = yield* TraceStore
      yield* store.add(
        batch("edge", [
          span("t1", "edge", {
            from: 0,
            to: 20,
            kind: 2,
            name: "POST /greeter.v1.GreeterService/*",
            attributes: [
              ...route("/greeter.v1.GreeterService/*"),
              { key: "http.response.status_code", value: { intValue: "200" } },
            ],
          }),
        ]),
      )
      yield* store.add(
        batch("greeter-service", [
          span("t1", "greet", { from: 5, to: 18, kind: 2, parentSpanId: "edge" }),
          span("t1", "insert", {
            from: 15,
            to: 17,
            parentSpanId: "greet",
            status: { code: 2, message: "boom" },
            events: [
              {
                name: "exception",
                timeUnixNano: at(16),
                attributes: [{ key: "exception.stacktrace", value: { stringValue: "Error: boom\n    at x" } }],
              },
            ],
          }),
        ]),
      )
      // Background work (no server span) and the console's own files are not requests to list.
      yield* store.add(batch("lang", [span("t2", "heartbeat", { from: 30, to: 31, kind: 3 })]))
      yield* store.add(batch("edge", [span("t3", "assets", { from: 40, to: 41, kind: 2, attributes: route("/*") })]))

      const [listed, ...rest] = yield* store.list(10)
      assert.deepStrictEqual(rest, [])
      assert.deepStrictEqual(listed, {
        traceId: "t1",
        name: "POST /greeter.v1.GreeterService/*",
        status: 200,
        services: ["edge", "greeter-service"],
        startedAt: 1_800_000_000_000,
        durationMs: 20,
        spans: 3,
        error: true,
      })
      const detail = Option.getOrThrow(yield* store.get("t1"))
      assert.deepStrictEqual(
        detail.spans.map((s) => [s.spanId, s.parentSpanId, s.service, s.kind, s.startMs, s.durationMs]),
        [
          ["edge", null, "edge", "server", 0, 20],
          ["greet", "edge", "greeter-service", "server", 5, 13],
          ["insert", "greet", "greeter-service", "internal", 15, 2],
        ],
      )
      const failed = detail.spans[2]
      assert.strictEqual(failed?.statusMessage, "boom")
      assert.deepStrictEqual(failed?.events, [
        { name: "exception", atMs: 16, attributes: { "exception.stacktrace": "Error: boom" } },
      ])
      assert.isTrue(Option.isNone(yield* store.get("nope")))
    }).pipe(Effect.provide(TraceStore.layer({ maxTraces: 10, maxSpans: 100 }))),
  )

  it.effect("property: never more than its capacity; the newest trace is always kept", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 30 }),
          fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 6 })), {
            minLength: 1,
            maxLength: 60,
          }),
          async (maxTraces, maxSpans, batches) => {
            const program = Effect.gen(function* () {
              const store = yield* TraceStore
              let last = ""
              for (const [trace, count] of batches) {
                last = `t${trace}`
                yield* store.add(
                  batch(
                    "svc",
                    Array.from({ length: count }, (_, i) =>
                      span(last, `${trace}-${i}-${Math.random()}`, { from: trace, to: trace + 1, kind: 2 }),
                    ),
                  ),
                )
              }
              const listed = yield* store.list(1000)
              assert.isAtMost(listed.length, maxTraces)
              assert.isAtMost(
                listed.reduce((sum, trace) => sum + trace.spans, 0),
                Math.max(maxSpans, 0),
              )
              assert.include(
                listed.map((trace) => trace.traceId),
                last,
              )
            })
            await Effect.runPromise(program.pipe(Effect.provide(TraceStore.layer({ maxTraces, maxSpans }))))
          },
        ),
        { numRuns: 200 },
      ),
    ),
  )
})
