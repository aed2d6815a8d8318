import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import parsePrometheus from "parse-prometheus-text-format"
import * as PrometheusText from "../src/PrometheusText.ts"

/** One process's exposition, as Effect's formatter writes it: families of HELP, TYPE, samples. */
const labelName = fc.constantFrom("method", "route", "status", "reason")
const labelValue = fc.string({ maxLength: 6 }).map((value) => value.replace(/[\\"\n]/g, "_"))
const family = fc.record({
  name: fc.constantFrom("requests_total", "in_flight", "bytes_total", "errors_total"),
  type: fc.constantFrom("counter", "gauge"),
  samples: fc.array(
    fc.record({ labels: fc.dictionary(labelName, labelValue, { maxKeys: 3 }), value: fc.nat({ max: 1000 }) }),
    { minLength: 1, maxLength: 4 },
  ),
})
const exposition = fc.uniqueArray(family, { selector: (f) => f.name, minLength: 1, maxLength: 4 }).map((families) =>
  families
    .map((f) =>
      [
        `# HELP ${f.name} the ${f.name}`,
        `# TYPE ${f.name} ${f.type}`,
        ...f.samples.map(({ labels, value }) => {
          const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
          return `${f.name}${pairs.length === 0 ? "" : `{${pairs.join(",")}}`} ${value}`
        }),
      ].join("\n"),
    )
    .join("\n")
    .concat("\n"),
)

describe("PrometheusText.merge", () => {
  it("property: every process's samples, each with its worker label, one family block per name", () => {
    fc.assert(
      fc.property(fc.array(exposition, { minLength: 1, maxLength: 4 }), (texts) => {
        const parts = texts.map((text, i) => ({ source: String(i + 1), text }))
        const merged = PrometheusText.merge(parts, "worker")
        const parsed = parsePrometheus(merged)
        const names = parsed.map((f) => f.name)
        assert.deepStrictEqual(names, [...new Set(names)], "each family once")
        for (const name of names) {
          assert.strictEqual(merged.match(new RegExp(`^# TYPE ${name} `, "gm"))?.length, 1)
        }
        const expected = parts.flatMap((part) =>
          parsePrometheus(part.text).flatMap((f) =>
            f.metrics.map((m) => ({ name: f.name, labels: { ...m.labels, worker: part.source }, value: m.value })),
          ),
        )
        const actual = parsed.flatMap((f) =>
          f.metrics.map((m) => ({ name: f.name, labels: { ...m.labels }, value: m.value })),
        )
        const key = (sample: { name: string; labels: Record<string, string>; value: string | undefined }) =>
          JSON.stringify([sample.name, Object.entries(sample.labels).sort(), sample.value])
        assert.deepStrictEqual(actual.map(key).sort(), expected.map(key).sort())
      }),
      { numRuns: 200 },
    )
  })

  it("histogram lines stay under their family; a label value is escaped", () => {
    const text = ["# TYPE d histogram", 'd_bucket{le="0.1"} 1', 'd_bucket{le="+Inf"} 2', "d_sum 0.3", "d_count 2"].join(
      "\n",
    )
    const merged = PrometheusText.merge(
      [
        { source: "1", text },
        { source: 'a"b', text },
      ],
      "worker",
    )
    assert.strictEqual(merged.match(/^# TYPE d histogram$/gm)?.length, 1)
    assert.strictEqual(merged.split("\n")[0], "# TYPE d histogram")
    assert.strictEqual(merged.match(/^d_(bucket|sum|count)\{worker=/gm)?.length, 8)
    assert.include(merged, 'd_sum{worker="a\\"b"} 0.3')
    assert.strictEqual(PrometheusText.withLabel("x 1", "w", "2"), 'x{w="2"} 1')
    assert.strictEqual(PrometheusText.withLabel('x{a="1"} 1', "w", "2"), 'x{w="2",a="1"} 1')
  })
})
