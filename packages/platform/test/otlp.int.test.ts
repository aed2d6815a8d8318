import { assert, describe, it } from "@effect/vitest"
import * as OtlpReceiver from "@platform/testkit/OtlpReceiver"
import { Effect, Exit, Scope } from "effect"
import { postJson, startRunner } from "./support.ts"

/**
 * As the original deployment's users would try it: `./platform start` with the variables of its
 * collector (`OTEL_EXPORTER_OTLP_ENDPOINT` on a gRPC receiver, `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`),
 * one Greet through the edge, then Ctrl-C. The receiver holds one trace that covers every hop
 * (edge, auth's forward-auth check, greeter, caller, the external call), each span from the
 * service that made it, each parent in the trace; and every service's metrics and logs.
 */
describe("telemetry from ./platform start, to the original deployment's collector (OTLP/gRPC)", () => {
  it("one Greet through the edge is one trace covering every hop; metrics and logs arrive too", async () => {
    const scope = Scope.makeUnsafe()
    const otlp = await Effect.runPromise(OtlpReceiver.start.pipe(Scope.provide(scope)))
    // Every port below the ephemeral range (32768), where no other test's free port can land.
    const offset = 1_000
    const { running, cleanup } = startRunner({
      PLATFORM_PORT_OFFSET: String(offset),
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.grpcUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_METRIC_EXPORT_INTERVAL: "1000",
    })
    try {
      await running.waitFor((line) => String(line.message ?? "").startsWith("platform ready"), 90_000)
      const edge = `http://127.0.0.1:${30081 + offset}`
      const account = { email: "otlp@example.com", password: "correct horse battery" }
      assert.strictEqual((await postJson(`${edge}/auth/register`, account)).status, 201)
      const login = await postJson(`${edge}/auth/login`, account)
      const greet = await postJson(
        `${edge}/greeter.v1.GreeterService/Greet`,
        { name: "Ada" },
        { authorization: `Bearer ${String(login.body.token)}` },
      )
      assert.strictEqual(greet.status, 200, JSON.stringify(greet.body))

      // Ctrl-C: every service drains and its exporter sends what it still holds.
      running.child.kill("SIGINT")
      assert.strictEqual(await running.exited, 0)

      const greetSpan = otlp.spans.find((span) => span.name === "greeter.v1.GreeterService/Greet")
      assert.isDefined(greetSpan, "greeter exported its server span")
      const trace = otlp.spans.filter((span) => span.traceId === greetSpan?.traceId)
      const ids = new Set(trace.map((span) => span.spanId))
      const roots = trace.filter((span) => !span.parentSpanId || !ids.has(span.parentSpanId))
      assert.deepStrictEqual(
        roots.map((span) => [span.service, span.name]),
        [["edge", "POST /greeter.v1.GreeterService/*"]],
        "the edge's span is the only root; every other span's parent is in the trace",
      )
      const services = new Set(trace.map((span) => span.service))
      assert.sameMembers([...services], ["edge", "auth-service", "greeter-service", "caller-service"])
      const by = (service: string, name: string) => trace.some((span) => span.service === service && span.name === name)
      assert.isTrue(by("auth-service", "GET /verify"), "forward-auth")
      assert.isTrue(by("greeter-service", "caller.Caller.CallExternal"), "greeter's RPC client span")
      assert.isTrue(by("caller-service", "caller.Caller.CallExternal"), "caller's RPC server span")
      assert.isTrue(by("caller-service", "GET"), "the external call")
      assert.isTrue(by("greeter-service", "GreetingsRepo.insert"), "the greeting's insert")
      assert.deepStrictEqual([...otlp.protocols], ["grpc"])
      for (const service of [
        "edge",
        "auth-service",
        "greeter-service",
        "caller-service",
        "gateway-service",
        "custom-lang-service",
      ]) {
        assert.isTrue(
          otlp.metrics.some((metric) => metric.service === service && metric.name === "http_server_requests_total"),
          `${service}'s metrics`,
        )
        assert.isTrue(
          otlp.logs.some((log) => log.service === service && log.body === "ready"),
          `${service}'s logs`,
        )
      }
    } finally {
      if (running.child.exitCode === null) running.child.kill("SIGKILL")
      await Effect.runPromise(Scope.close(scope, Exit.void))
      cleanup()
    }
  }, 120_000)
})
