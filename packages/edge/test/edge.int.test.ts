import { createHash } from "node:crypto"
import * as http2 from "node:http2"
import type { AddressInfo } from "node:net"
import { Code, ConnectError, createClient } from "@connectrpc/connect"
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node"
import { assert, describe, layer } from "@effect/vitest"
import * as AuthApp from "@platform/auth/App"
import * as CallerApp from "@platform/caller/App"
import * as GreeterApp from "@platform/greeter/App"
import * as ExternalStub from "@platform/platform/ExternalStub"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { freePort } from "@platform/testkit/Processes"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { type RecordedSpan, SpanRecorder } from "@platform/testkit/SpanRecorder"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import * as App from "../src/App.ts"

/** An h2c upstream on `port` (a free one if none) answering with `handler`, closed with the scope. */
const h2cUpstream = (
  handler: (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => void,
  port = 0,
) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<http2.Http2Server>((resolve) => {
          const server = http2.createServer(handler)
          server.listen(port, "127.0.0.1", () => resolve(server))
        }),
    ),
    (server) => Effect.sync(() => server.close()),
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

/** An h2c upstream that answers every request with the headers it received. */
const echo = h2cUpstream((request, response) => {
  const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !name.startsWith(":")))
  response.writeHead(200, { "content-type": "application/json" })
  response.end(JSON.stringify(headers))
})

/** An upstream that answers, once the body has ended, its length and SHA-256. */
const bodyDigest = (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
  const hash = createHash("sha256")
  let bytes = 0
  request.on("data", (chunk: Buffer) => {
    bytes += chunk.length
    hash.update(chunk)
  })
  request.on("end", () => response.end(JSON.stringify({ bytes, sha256: hash.digest("hex") })))
}

interface Platform {
  readonly auth: string
  readonly edge: string
  /** An edge whose greeter is the echo server. */
  readonly echoEdge: string
  readonly token: string
  readonly userId: string
  /** The spans the echo edge has ended so far. */
  readonly echoSpans: Effect.Effect<ReadonlyArray<RecordedSpan>>
}
class PlatformUnderTest extends Context.Service<PlatformUnderTest, Platform>()("test/Platform") {}

/** An edge whose greeter is on a free port where nothing listens yet, and that port. */
const edgeBeforeItsGreeter = (platform: Platform) =>
  Effect.gen(function* () {
    const port = yield* Effect.promise(freePort)
    const edge = yield* TestServer.serve(App, {
      EDGE_GREETER_URL: `http://127.0.0.1:${port}`,
      EDGE_AUTH_URL: platform.auth,
    })
    return { edge, port }
  })

const PlatformLive = Layer.effect(
  PlatformUnderTest,
  Effect.gen(function* () {
    const stub = yield* Effect.acquireRelease(
      Effect.promise(() => ExternalStub.start()),
      (s) => Effect.promise(s.close),
    )
    const authDb = yield* TestDatabase.freshDatabase("edge_auth")
    const auth = yield* TestServer.serve(AuthApp, { DATABASE_URL: authDb.href })
    const caller = yield* TestServer.serve(CallerApp, { CALLER_ALLOW_PRIVATE_NETWORKS: "true" })
    const greeter = yield* TestServer.serve(GreeterApp, {
      CALLER_BASE_URL: caller,
      EXTERNAL_API_URL: stub.url,
    })
    const upstreams = { EDGE_GREETER_URL: greeter, EDGE_AUTH_URL: auth, EDGE_GATEWAY_URL: "http://127.0.0.1:1" }
    const edge = yield* TestServer.serve(App, upstreams)
    // Traced, so that the edge has a span whose context it must pass upstream.
    const recorder = yield* Layer.build(SpanRecorder.layer)
    const echoEdge = yield* TestServer.serve(App, { ...upstreams, EDGE_GREETER_URL: yield* echo }, { around: recorder })
    const credentials = { email: "edge-test@example.com", password: "correct horse battery" }
    const json = (path: string) =>
      Effect.promise(async () => {
        const response = await fetch(`${edge}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(credentials),
        })
        return (await response.json()) as { id?: string; token?: string }
      })
    const { id } = yield* json("/auth/register")
    const { token } = yield* json("/auth/login")
    const echoSpans = Context.get(recorder, SpanRecorder).spans
    return { auth, edge, echoEdge, token: token ?? "", userId: id ?? "", echoSpans }
  }),
)

layer(PlatformLive, { excludeTestServices: true, timeout: "60 seconds" })(
  "the edge in front of real services",
  (it) => {
    describe("every protocol passes through, trailers included", () => {
      const transports = {
        "Connect JSON over HTTP/1.1": (baseUrl: string) =>
          createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
        "Connect binary over HTTP/1.1": (baseUrl: string) =>
          createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
        "gRPC-Web over HTTP/1.1": (baseUrl: string) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
        "gRPC over h2c": (baseUrl: string) => createGrpcTransport({ baseUrl }),
      }
      for (const [name, transport] of Object.entries(transports)) {
        it.effect(`${name}: an answer, and a failure's code (gRPC status travels in trailers)`, () =>
          Effect.gen(function* () {
            const platform = yield* PlatformUnderTest
            const client = createClient(GreeterService, transport(platform.edge))
            const headers = { authorization: `Bearer ${platform.token}` }
            const answer = yield* Effect.promise(() => client.greet({ name: name }, { headers }))
            assert.strictEqual(answer.message, `Hello ${name} from greeter-service!`)
            assert.strictEqual(answer.externalStatus, 200)
            const refused = yield* Effect.promise(() =>
              client.greet({ name: "n".repeat(300) }, { headers }).then(
                () => undefined,
                (error: unknown) => ConnectError.from(error).code,
              ),
            )
            assert.strictEqual(refused, Code.InvalidArgument)
            const anonymous = yield* Effect.promise(() =>
              client.greet({ name: "x" }).then(
                () => undefined,
                (error: unknown) => ConnectError.from(error).code,
              ),
            )
            assert.strictEqual(anonymous, Code.Unauthenticated, "verify's 401, as the client reads it")
          }),
        )
      }
    })

    it.effect("forward-auth copies X-User-Id and X-User-Role from verify; a client cannot forge them", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const response = yield* Effect.promise(() =>
          fetch(`${platform.echoEdge}/greeter.v1.GreeterService/Greet`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              authorization: `Bearer ${platform.token}`,
              "x-user-id": "someone-else",
              "x-user-role": "admin",
            },
            body: "{}",
          }).then((r) => r.json() as Promise<Record<string, string>>),
        )
        assert.strictEqual(response["x-user-id"], platform.userId)
        assert.strictEqual(response["x-user-role"], "user")
        assert.include(response["x-forwarded-for"], "127.0.0.1")
        assert.isString(response.traceparent, "the trace continues upstream")
      }),
    )

    it.effect("without a token the client gets verify's own 401 body, with CORS headers", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const response = yield* Effect.promise(() =>
          fetch(`${platform.edge}/greeter.v1.GreeterService/Greet`, {
            method: "POST",
            headers: { "content-type": "application/json", origin: "http://localhost:30081" },
            body: "{}",
          }),
        )
        assert.strictEqual(response.status, 401)
        assert.deepStrictEqual(yield* Effect.promise(() => response.json()), { error: "missing bearer token" })
        assert.strictEqual(response.headers.get("access-control-allow-origin"), "http://localhost:30081")
        // auth's challenge, which tells a client the edge refused it (refresh), readable cross-origin.
        assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer /)
        assert.include(response.headers.get("access-control-expose-headers") ?? "", "WWW-Authenticate")
      }),
    )

    it.effect("a browser's preflight for InvokeCustom with Idempotency-Key and trace context is allowed", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const response = yield* Effect.promise(() =>
          fetch(`${platform.edge}/gateway.v1.GatewayService/InvokeCustom`, {
            method: "OPTIONS",
            headers: {
              origin: "http://localhost:30081",
              "access-control-request-method": "POST",
              "access-control-request-headers":
                "authorization,content-type,idempotency-key,traceparent,tracestate,baggage",
            },
          }),
        )
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.headers.get("access-control-allow-origin"), "http://localhost:30081")
        // A browser compares each requested header with the list, without regard to case.
        const allowed = (response.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(",")
        for (const header of [
          "authorization",
          "content-type",
          "idempotency-key",
          "traceparent",
          "tracestate",
          "baggage",
        ]) {
          assert.include(allowed, header)
        }
      }),
    )

    it.effect("an unreachable upstream without retry is a 502 at once", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const response = yield* Effect.promise(() =>
          fetch(`${platform.edge}/gateway.v1.GatewayService/InvokeCustom`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${platform.token}` },
            body: "{}",
          }),
        )
        assert.strictEqual(response.status, 502)
        assert.strictEqual(yield* Effect.promise(() => response.text()), "Bad Gateway")
        // Which service did not answer, for the console's sentence.
        assert.strictEqual(response.headers.get("x-edge-unreachable"), "gateway")
      }),
    )

    it.effect("retry: a network error is retried (3 attempts, from 100 ms apart) until the upstream answers", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const { edge, port } = yield* edgeBeforeItsGreeter(platform)
        // Nothing listens yet: attempts 1 and 2 are refused; attempt 3 (after 100 + 200 ms) finds it.
        const answer = fetch(`${edge}/greeter.v1.GreeterService/Greet`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${platform.token}` },
          body: "{}",
        }).then((response) => response.status)
        yield* Effect.sleep("150 millis")
        yield* h2cUpstream((_request, response) => response.end("{}"), port)
        assert.strictEqual(yield* Effect.promise(() => answer), 200)
      }),
    )

    it.effect("retry: the body streams to the upstream as the client sends it, not after it ends", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        let sawFirst: () => void = () => {}
        const upstreamSawFirst = new Promise<void>((resolve) => {
          sawFirst = resolve
        })
        const upstream = yield* h2cUpstream((request, response) => {
          request.once("data", () => sawFirst())
          bodyDigest(request, response)
        })
        const edge = yield* TestServer.serve(App, { EDGE_GREETER_URL: upstream, EDGE_AUTH_URL: platform.auth })
        // The second half is sent only once the upstream has the first: an edge that waited for
        // the whole body before sending any would wait forever.
        let step = 0
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (step++ === 0) return controller.enqueue(new Uint8Array(1000).fill(1))
            await upstreamSawFirst
            controller.enqueue(new Uint8Array(500).fill(2))
            controller.close()
          },
        })
        const response = yield* Effect.promise(() =>
          fetch(`${edge}/greeter.v1.GreeterService/Greet`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${platform.token}` },
            body,
            duplex: "half",
          } as RequestInit),
        ).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(response.status, 200)
        const answer = (yield* Effect.promise(() => response.json())) as { bytes: number }
        assert.strictEqual(answer.bytes, 1500)
      }),
    )

    it.effect("retry: a body sent again arrives whole, from the copy the edge kept", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const { edge, port } = yield* edgeBeforeItsGreeter(platform)
        // Larger than the streams' buffers, so the refused first attempt left most of it unread.
        const sent = Buffer.alloc(300_000)
        for (let i = 0; i < sent.length; i++) sent[i] = (i * 31) % 251
        const answer = fetch(`${edge}/greeter.v1.GreeterService/Greet`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${platform.token}` },
          body: sent,
        }).then(async (response) => ({ status: response.status, body: await response.text() }))
        yield* Effect.sleep("150 millis")
        yield* h2cUpstream(bodyDigest, port)
        const { status, body } = yield* Effect.promise(() => answer)
        assert.strictEqual(status, 200, body)
        assert.deepStrictEqual(JSON.parse(body), {
          bytes: sent.length,
          sha256: createHash("sha256").update(sent).digest("hex"),
        })
      }),
    )

    it.effect("an upstream restarting (refusing connections) is waited out for EDGE_RESTART_WINDOW_MS, then 502", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const port = yield* Effect.promise(freePort)
        const greet = (edge: string) =>
          Effect.timed(
            Effect.promise(() =>
              fetch(`${edge}/greeter.v1.GreeterService/Greet`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${platform.token}` },
                body: "{}",
              }).then((response) => response.status),
            ),
          )
        const patient = yield* TestServer.serve(App, {
          EDGE_GREETER_URL: `http://127.0.0.1:${port}`,
          EDGE_AUTH_URL: platform.auth,
          EDGE_RESTART_WINDOW_MS: "4000",
        })
        // Refused for 1.5 s, far past Traefik's 3 attempts (300 ms): the restart is waited out.
        const answer = yield* Effect.forkChild(greet(patient))
        yield* Effect.sleep("1500 millis")
        yield* h2cUpstream((_request, response) => response.end("{}"), port)
        const [took, status] = yield* Fiber.join(answer)
        assert.strictEqual(status, 200)
        assert.isAtLeast(Duration.toMillis(took), 1500)

        const hurried = yield* TestServer.serve(App, {
          EDGE_GREETER_URL: `http://127.0.0.1:${yield* Effect.promise(freePort)}`,
          EDGE_AUTH_URL: platform.auth,
          EDGE_RESTART_WINDOW_MS: "600",
        })
        const [gaveUpAfter, refused] = yield* greet(hurried)
        assert.strictEqual(refused, 502)
        assert.isTrue(
          Duration.toMillis(gaveUpAfter) >= 600 && Duration.toMillis(gaveUpAfter) < 2000,
          `gave up after ${Duration.toMillis(gaveUpAfter)} ms`,
        )
      }),
    )

    it.effect("auth's yes is kept for the token's next requests; a logout through the edge ends it at once", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
          Effect.promise(() =>
            fetch(`${platform.edge}${path}`, {
              method: "POST",
              headers: { "content-type": "application/json", ...headers },
              body: JSON.stringify(body),
            }),
          )
        const credentials = { email: "edge-cache@example.com", password: "correct horse battery" }
        yield* post("/auth/register", credentials)
        const login = yield* post("/auth/login", credentials)
        const session = (yield* Effect.promise(() => login.json())) as { token: string; refreshToken: string }
        const bearer = { authorization: `Bearer ${session.token}` }
        /** Requests auth's `/verify` has answered so far, from its own metrics. */
        const verified = Effect.promise(async () => {
          const text = await fetch(`${platform.auth}/metrics`).then((r) => r.text())
          return PrometheusText.sum(PrometheusText.parse(text), "http_server_requests_total", { route: "/verify" })
        })
        const before = yield* verified
        for (let i = 0; i < 5; i++) {
          const greet = yield* post("/greeter.v1.GreeterService/Greet", { name: "Cache" }, bearer)
          assert.strictEqual(greet.status, 200)
        }
        assert.strictEqual((yield* verified) - before, 1, "five requests within a second: auth asked once")
        const logout = yield* post("/auth/logout", { refreshToken: session.refreshToken })
        assert.strictEqual(logout.status, 204)
        const after = yield* post("/greeter.v1.GreeterService/Greet", { name: "Cache" }, bearer)
        assert.strictEqual(after.status, 401, "the session ended: its kept verdict is gone with it")
      }),
    )

    it.effect("a request let through on a kept verdict says so on the edge's span; one that asked has auth's", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const send = (traceId: string) =>
          Effect.promise(() =>
            fetch(`${platform.echoEdge}/greeter.v1.GreeterService/Greet`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${platform.token}`,
                traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
              },
              body: "{}",
            }).then((response) => response.status),
          )
        // Another token's verdicts may be kept from earlier tests: this one is fresh once a logout ends them all.
        yield* Effect.promise(() =>
          fetch(`${platform.echoEdge}/auth/logout`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ refreshToken: "none" }),
          }),
        )
        const [asked, kept] = ["a".repeat(32), "b".repeat(32)]
        assert.strictEqual(yield* send(asked), 200)
        assert.strictEqual(yield* send(kept), 200)
        const spans = yield* platform.echoSpans
        const server = (traceId: string) => spans.find((span) => span.traceId === traceId && span.kind === "server")
        assert.isUndefined(server(asked)?.attributes.get("edge.auth.verdict"))
        assert.isTrue(spans.some((span) => span.traceId === asked && span.kind === "client" && span.name === "GET"))
        assert.strictEqual(server(kept)?.attributes.get("edge.auth.verdict"), "kept")
        assert.isFalse(
          spans.some((span) => span.traceId === kept && span.name === "GET"),
          "auth was not asked",
        )
      }),
    )

    it.effect("GET /ping answers OK, and / says where the APIs are", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const ping = yield* Effect.promise(() => fetch(`${platform.edge}/ping`).then((r) => r.text()))
        assert.strictEqual(ping, "OK")
        const home = yield* Effect.promise(() => fetch(`${platform.edge}/`).then((r) => r.text()))
        assert.include(home, "/greeter.v1.GreeterService/Greet")
      }),
    )
  },
)
