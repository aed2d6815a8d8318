import { assert, describe, it } from "@effect/vitest"
import { counters, figures, samples } from "../src/dashboard/ServiceProbe.ts"

/** What a service's `/metrics` says, as Effect's formatter writes it. */
const exposition = (ok: number, failed: number, probes: number, fast: number) =>
  [
    "# HELP http_server_requests_total Requests",
    "# TYPE http_server_requests_total counter",
    `http_server_requests_total{method="POST",route="/invoke",status="200"} ${ok}`,
    `http_server_requests_total{method="POST",route="/invoke",status="503"} ${failed}`,
    `http_server_requests_total{method="GET",route="/healthz",status="200"} ${probes}`,
    "# TYPE http_server_request_duration_seconds histogram",
    `http_server_request_duration_seconds_bucket{method="POST",route="/invoke",le="0.005"} ${fast}`,
    `http_server_request_duration_seconds_bucket{method="POST",route="/invoke",le="0.1"} ${ok + failed}`,
    `http_server_request_duration_seconds_bucket{method="POST",route="/invoke",le="+Inf"} ${ok + failed}`,
    `http_server_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"} ${probes}`,
    "",
  ].join("\n")

describe("ServiceProbe", () => {
  it("samples: labels and values, escaped quotes included", () => {
    assert.deepStrictEqual(samples('x_total{a="1",b="q\\"t"} 4\nx_total_other 3\nx_total 2\n', "x_total"), [
      { labels: { a: "1", b: 'q"t' }, value: 4 },
      { labels: {}, value: 2 },
    ])
  })

  it("rate, 5xx ratio and p99 between two looks, the probes left out", () => {
    const before = counters(exposition(100, 0, 50, 100), 0)
    const after = counters(exposition(190, 10, 60, 150), 2000)
    assert.deepStrictEqual(figures(before, after), { requestsPerSecond: 50, errorRatio: 0.1, p99Ms: 100 })
    // All fast: the p99 is the first bucket's bound.
    const quick = counters(exposition(300, 10, 70, 260), 4000)
    assert.deepStrictEqual(figures(after, quick), { requestsPerSecond: 55, errorRatio: 0, p99Ms: 5 })
    assert.deepStrictEqual(figures(undefined, quick), { requestsPerSecond: 0, errorRatio: 0, p99Ms: null })
    assert.deepStrictEqual(figures(quick, quick).p99Ms, null, "no answers, no p99")
  })
})
