import { assert, describe, it } from "@effect/vitest"
import * as OtlpReceiver from "@platform/testkit/OtlpReceiver"
import { freePort } from "@platform/testkit/Processes"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer, Metric } from "effect"
import * as Logging from "../src/Logging.ts"
import * as Telemetry from "../src/Telemetry.ts"

/**
 * Traces, metrics and logs reach a real OTLP receiver over each protocol the specification
 * names, by the time the layer closes (a graceful shutdown flushes them).
 */
const telemetry = (env: Record<string, string>, log: (line: string) => void = () => {}) =>
  Telemetry.layer.pipe(
    Layer.provideMerge(Logging.layerWriting(log)),
    Layer.provideMerge(TestServer.config({ name: "telemetry-test", port: 1 }, { LOG_LEVEL: "info", ...env })),
  )

const requests = Metric.counter("telemetry_test_requests_total", { incremental: true })

/** One span with a log line in it, and one metric update. */
const work = Effect.gen(function* () {
  yield* Effect.logInfo("inside the span")
  yield* Metric.update(requests, 1)
}).pipe(Effect.withSpan("greeter.v1.GreeterService/Greet", { kind: "server" }))

describe("Telemetry over OTLP", () => {
  for (const protocol of ["grpc", "http/protobuf", "http/json"] as const) {
    it.live(`${protocol}: a span, its log line and a metric arrive, named after the service`, () =>
      Effect.gen(function* () {
        const receiver = yield* OtlpReceiver.start
        yield* Effect.scoped(
          work.pipe(
            Effect.provide(
              telemetry({
                OTEL_EXPORTER_OTLP_ENDPOINT: protocol === "grpc" ? receiver.grpcUrl : receiver.httpUrl,
                OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
                OTEL_SERVICE_NAME: "exported-service",
                OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
              }),
            ),
          ),
        )
        assert.deepStrictEqual([...receiver.protocols], [protocol])
        const [span] = receiver.spans
        assert.deepStrictEqual(
          [span?.service, span?.name, span?.kind],
          ["exported-service", "greeter.v1.GreeterService/Greet", 2],
        )
        const log = receiver.logs.find((record) => record.body === "inside the span")
        assert.isDefined(log, "the log line arrived")
        assert.strictEqual(log?.traceId, span?.traceId, "in the span's trace")
        assert.isTrue(
          receiver.metrics.some(
            (metric) => metric.name === "telemetry_test_requests_total" && metric.service === "exported-service",
          ),
        )
      }),
    )
  }

  it.live("a collector that cannot be reached is said once, with its address; the work goes on", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      const lines: Array<string> = []
      yield* Effect.scoped(
        Effect.gen(function* () {
          for (let i = 0; i < 3; i++) yield* work
          // Several metric exports fail meanwhile: still one line.
          yield* Effect.sleep("1 second")
        }).pipe(
          Effect.provide(
            telemetry(
              {
                OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
                OTEL_EXPORTER_OTLP_TIMEOUT: "300",
                OTEL_METRIC_EXPORT_INTERVAL: "100",
              },
              (line) => lines.push(line),
            ),
          ),
        ),
      )
      const warnings = lines.filter((line) => line.includes("cannot export"))
      const about = (signal: string) =>
        warnings.filter((line) => line.includes(`cannot export ${signal} to http://127.0.0.1:${port}/v1/${signal}`))
      assert.strictEqual(about("traces").length, 1, lines.join("\n"))
      assert.strictEqual(about("metrics").length, 1, lines.join("\n"))
    }),
  )
})
