import * as http2 from "node:http2"
import { assert, describe, it } from "@effect/vitest"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { SpanRecorder } from "@platform/testkit/SpanRecorder"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { DatabaseHealth } from "../src/Database.ts"
import * as Health from "../src/Health.ts"
import * as Server from "../src/Server.ts"

const Routes = Layer.mergeAll(
  HttpRouter.add("GET", "/items/:id", HttpServerResponse.text("item\n")),
  HttpRouter.add("POST", "/items", HttpServerResponse.text("created\n", { status: 201 })),
  HttpRouter.add("GET", "/broken", Effect.die(new Error("a bug"))),
  HttpRouter.add("GET", "/busy", HttpServerResponse.text("busy\n", { status: 503 })),
  Health.layer({ healthy: "ok\n", unhealthy: { json: { error: "db health check failed" } } }).pipe(
    Layer.provide(DatabaseHealth.disabled),
  ),
)

/** A server on the kernel, traced into a recorder; its base URL. */
const serve = Effect.gen(function* () {
  const context = yield* Layer.build(
    Server.serve(Routes).pipe(
      Layer.provideMerge(Server.layerTest),
      Layer.provide(TestServer.config({ name: "telemetry-test", port: 1 }, {})),
    ),
  )
  return yield* TestServer.baseUrl.pipe(Effect.provide(context))
})

const get = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    await response.arrayBuffer()
    return response.status
  })

const http2Get = (base: string, path: string) =>
  Effect.promise(
    () =>
      new Promise<number>((resolve, reject) => {
        const session = http2.connect(base)
        session.on("error", reject)
        const stream = session.request({ ":path": path })
        stream.on("response", (headers) => {
          stream.resume()
          stream.on("end", () => {
            session.close()
            resolve(Number(headers[":status"]))
          })
        })
      }),
  )

const scrape = (base: string) =>
  Effect.promise(async () => PrometheusText.parse(await (await fetch(`${base}/metrics`)).text()))

describe("HttpTelemetry", () => {
  it.effect("every request is counted by its route template and the status the client got", () =>
    Effect.gen(function* () {
      const base = yield* serve
      assert.strictEqual(yield* get(`${base}/items/1`), 200)
      assert.strictEqual(yield* get(`${base}/items/2`), 200)
      assert.strictEqual(yield* http2Get(base, "/items/3"), 200)
      assert.strictEqual(yield* get(`${base}/items`, { method: "POST" }), 201)
      assert.strictEqual(yield* get(`${base}/nowhere/${"x".repeat(10)}`), 404)
      assert.strictEqual(yield* get(`${base}/broken`), 500)
      assert.strictEqual(yield* get(`${base}/busy`), 503)
      const metrics = yield* scrape(base)
      const requests = (labels: Record<string, string>) =>
        PrometheusText.sum(metrics, "http_server_requests_total", labels)
      assert.strictEqual(requests({ method: "GET", route: "/items/:id", status: "200" }), 3, "HTTP/1.1 and h2c")
      assert.strictEqual(requests({ method: "POST", route: "/items", status: "201" }), 1)
      assert.strictEqual(requests({ route: "unmatched", status: "404" }), 1, "a raw path never becomes a label")
      assert.strictEqual(requests({ route: "/broken", status: "500" }), 1)
      assert.strictEqual(requests({ route: "/busy", status: "503" }), 1)
      assert.strictEqual(
        PrometheusText.sum(metrics, "http_server_request_duration_seconds_count", { route: "/items/:id" }),
        3,
      )
      assert.strictEqual(PrometheusText.sum(metrics, "http_server_active_requests"), 1, "only the scrape itself")
      assert.strictEqual(metrics.types.get("http_server_request_duration_seconds"), "histogram")
    }),
  )

  it.effect("a routed request is a server span named after its route, continuing the caller's trace", () =>
    Effect.gen(function* () {
      const base = yield* serve
      const recorder = yield* SpanRecorder
      const traceId = "0af7651916cd43dd8448eb211c80319c"
      yield* get(`${base}/items/7`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } })
      yield* get(`${base}/items/8`, { headers: { b3: `${traceId}-b9c7c989f97918e1-1` } })
      yield* get(`${base}/broken`)
      yield* get(`${base}/busy`)
      assert.strictEqual(yield* get(`${base}/healthz`), 200)
      yield* scrape(base)
      const spans = yield* recorder.spans
      const items = spans.filter((span) => span.name === "GET /items/:id")
      assert.deepStrictEqual(
        items.map((span) => [span.kind, span.traceId, span.parentSpanId, span.attributes.get("http.route")]),
        [
          ["server", traceId, "b7ad6b7169203331", "/items/:id"],
          ["server", traceId, "b9c7c989f97918e1", "/items/:id"],
        ],
      )
      assert.strictEqual(items[0]?.attributes.get("http.response.status_code"), 200)
      const failed = (name: string) => {
        const span = spans.find((candidate) => candidate.name === name)
        return span?.status._tag === "Ended" && span.status.exit._tag === "Failure"
      }
      assert.isTrue(failed("GET /broken"), "a defect fails the span")
      assert.isTrue(failed("GET /busy"), "so does a 5xx answer")
      assert.isFalse(failed("GET /items/:id"))
      assert.isUndefined(
        spans.find((span) => span.name.includes("/healthz") || span.name.includes("/metrics")),
        "probes are not traced",
      )
    }).pipe(Effect.provide(SpanRecorder.layer)),
  )
})
