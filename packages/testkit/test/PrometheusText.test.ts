import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import fc from "fast-check"
import * as PrometheusText from "../src/PrometheusText.ts"

/** One update of a counter, a gauge or a histogram, with a label value that may need escaping. */
const update = fc.record({
  kind: fc.constantFrom("counter", "gauge", "histogram"),
  metric: fc.constantFrom("a", "b"),
  label: fc.string({ unit: "grapheme", maxLength: 12 }),
  value: fc.integer({ min: 0, max: 1_000 }),
})

const expected = (updates: ReadonlyArray<typeof update extends fc.Arbitrary<infer U> ? U : never>) => {
  const counters = new Map<string, number>()
  const gauges = new Map<string, number>()
  const histograms = new Map<string, { count: number; sum: number }>()
  for (const u of updates) {
    const key = `${u.kind}_${u.metric}\u0000${u.label}`
    if (u.kind === "counter") counters.set(key, (counters.get(key) ?? 0) + u.value)
    if (u.kind === "gauge") gauges.set(key, u.value)
    if (u.kind === "histogram") {
      const seen = histograms.get(key) ?? { count: 0, sum: 0 }
      histograms.set(key, { count: seen.count + 1, sum: seen.sum + u.value })
    }
  }
  return { counters, gauges, histograms }
}

describe("PrometheusText", () => {
  it.effect("property: reads back exactly what Effect's Prometheus formatter wrote", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(update, { maxLength: 40 }), async (updates) => {
          const text = await Effect.runPromise(
            Effect.gen(function* () {
              for (const u of updates) {
                const attributes = { label: u.label }
                const name = `${u.kind}_${u.metric}`
                if (u.kind === "counter") {
                  yield* Metric.update(Metric.withAttributes(Metric.counter(name), attributes), u.value)
                } else if (u.kind === "gauge") {
                  yield* Metric.update(Metric.withAttributes(Metric.gauge(name), attributes), u.value)
                } else {
                  const histogram = Metric.histogram(name, { boundaries: [1, 10, 100] })
                  yield* Metric.update(Metric.withAttributes(histogram, attributes), u.value)
                }
              }
              return yield* PrometheusMetrics.format()
            }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())),
          )
          const scrape = PrometheusText.parse(text)
          const want = expected(updates)
          for (const [key, value] of want.counters) {
            const [name, label] = key.split("\u0000") as [string, string]
            assert.strictEqual(PrometheusText.sum(scrape, name, { label }), value)
            assert.strictEqual(scrape.types.get(name), "counter")
          }
          for (const [key, value] of want.gauges) {
            const [name, label] = key.split("\u0000") as [string, string]
            assert.strictEqual(PrometheusText.sum(scrape, name, { label }), value)
          }
          for (const [key, { count, sum }] of want.histograms) {
            const [name, label] = key.split("\u0000") as [string, string]
            assert.strictEqual(PrometheusText.sum(scrape, `${name}_count`, { label }), count)
            assert.strictEqual(PrometheusText.sum(scrape, `${name}_sum`, { label }), sum)
            assert.strictEqual(PrometheusText.sum(scrape, `${name}_bucket`, { label, le: "+Inf" }), count)
          }
          assert.strictEqual(
            scrape.samples.filter((sample) => !sample.name.startsWith("histogram_")).length,
            want.counters.size + want.gauges.size,
          )
        }),
        { numRuns: 200 },
      ),
    ),
  )

  it("refuses what is not the text format, saying where", () => {
    assert.throws(() => PrometheusText.parse('ok 1\nbad{label="x} 2\n'), /line 2/)
    assert.throws(() => PrometheusText.parse("value_only seven\n"), /"seven" is not a number/)
    assert.throws(() => PrometheusText.parse('x{1abc="v"} 1\n'), /label name/)
  })

  it("reads escapes, +Inf, timestamps and HELP text", () => {
    const scrape = PrometheusText.parse(
      [
        "# HELP requests_total Requests\\nserved",
        "# TYPE requests_total counter",
        'requests_total{path="/a\\"b\\\\c\\nd",code="200",} 3 1700000000000',
        'latency_bucket{le="+Inf"} +Inf',
        "",
      ].join("\n"),
    )
    assert.strictEqual(scrape.help.get("requests_total"), "Requests\nserved")
    assert.deepStrictEqual(scrape.samples[0]?.labels, { path: '/a"b\\c\nd', code: "200" })
    assert.strictEqual(PrometheusText.sum(scrape, "requests_total", { code: "200" }), 3)
    assert.strictEqual(scrape.samples[1]?.value, Number.POSITIVE_INFINITY)
  })
})
