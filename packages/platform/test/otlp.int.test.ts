import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { start } from "@platform/testkit/Processes"

/**
 * As a new user would try it: `pnpm start` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointed at a local
 * OTLP/HTTP receiver, one Greet through the edge, then Ctrl-C. The receiver holds one trace that
 * covers every hop (edge, auth's forward-auth check, greeter, caller, the external call), each
 * span from the service that made it, each parent in the trace.
 */
const runner = fileURLToPath(new URL("../src/main.ts", import.meta.url))

interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
}
interface ExportRequest {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<{ key: string; value: { stringValue?: string } }> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

/** An OTLP/HTTP receiver (JSON), keeping every span with the service that sent it. */
const receiver = () =>
  new Promise<{ url: string; spans: Array<OtlpSpan & { service: string }>; close: () => void }>((resolve) => {
    const spans: Array<OtlpSpan & { service: string }> = []
    const server = http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        if (request.url === "/v1/traces") {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ExportRequest
          for (const resource of body.resourceSpans) {
            const service =
              resource.resource.attributes.find((attribute) => attribute.key === "service.name")?.value.stringValue ??
              "unknown"
            for (const scope of resource.scopeSpans) for (const span of scope.spans) spans.push({ ...span, service })
          }
        }
        response.writeHead(200, { "content-type": "application/json" })
        response.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        spans,
        close: () => server.close(),
      }),
    )
  })

const json = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe("traces from pnpm start", () => {
  it("one Greet through the edge is one trace covering every hop, exported over OTLP", async () => {
    const otlp = await receiver()
    const offset = 22_000
    const dataDir = mkdtempSync(join(tmpdir(), "platform-otlp-"))
    // As root, PostgreSQL runs as the postgres user: it must be able to reach the folder.
    chmodSync(dataDir, 0o755)
    const running = start(runner, {
      EMBEDDED_POSTGRES_DIR: join(dataDir, "postgres"),
      PLATFORM_LOG_FORMAT: "json",
      PLATFORM_PORT_OFFSET: String(offset),
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    })
    try {
      await running.waitFor((line) => String(line.message ?? "").startsWith("platform ready"), 90_000)
      const edge = `http://127.0.0.1:${30081 + offset}`
      const account = { email: "otlp@example.com", password: "correct horse battery" }
      assert.strictEqual((await json(`${edge}/auth/register`, account)).status, 201)
      const login = await json(`${edge}/auth/login`, account)
      const greet = await json(
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
    } finally {
      if (running.child.exitCode === null) running.child.kill("SIGKILL")
      otlp.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)
})
