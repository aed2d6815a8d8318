import * as http from "node:http"
import { assert, describe, it } from "@effect/vitest"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer } from "effect"
import * as Telemetry from "../src/Telemetry.ts"

describe("Telemetry", () => {
  it.live("with OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach an OTLP/HTTP receiver by the time the layer closes", () =>
    Effect.gen(function* () {
      const received: Array<{ path: string; body: string }> = []
      const receiver = yield* Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<http.Server>((resolve) => {
              const server = http.createServer((request, response) => {
                let body = ""
                request.on("data", (chunk) => {
                  body += chunk
                })
                request.on("end", () => {
                  received.push({ path: request.url ?? "", body })
                  response.writeHead(200, { "content-type": "application/json" }).end("{}")
                })
              })
              server.listen(0, "127.0.0.1", () => resolve(server))
            }),
        ),
        (server) => Effect.sync(() => server.close()),
      )
      const { port } = receiver.address() as { port: number }
      const config = TestServer.config(
        { name: "telemetry-test", port: 1 },
        { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: "exported-service" },
      )
      yield* Effect.scoped(
        Effect.void.pipe(
          Effect.withSpan("greeter.v1.GreeterService/Greet", { kind: "server" }),
          Effect.provide(Telemetry.layer.pipe(Layer.provide(config))),
        ),
      )
      assert.isAbove(received.length, 0, "the exporter flushed on close")
      assert.strictEqual(received[0]?.path, "/v1/traces")
      const payload = JSON.parse(received[0]?.body ?? "{}")
      const resource = JSON.stringify(payload.resourceSpans[0].resource)
      assert.include(resource, "exported-service")
      assert.strictEqual(payload.resourceSpans[0].scopeSpans[0].spans[0].name, "greeter.v1.GreeterService/Greet")
    }),
  )
})
