import * as http2 from "node:http2"
import type * as net from "node:net"
import { Code, ConnectError, createClient } from "@connectrpc/connect"
import { createGrpcTransport } from "@connectrpc/connect-node"
import { assert, describe, layer } from "@effect/vitest"
import * as ExternalStub from "@platform/platform/ExternalStub"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { SpanRecorder } from "@platform/testkit/SpanRecorder"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as App from "../src/App.ts"
import * as CallerWorld from "./CallerWorld.ts"

/** caller, its external stand-in and greeter's database, shared by every greeter of the file. */
class World extends Context.Service<
  World,
  { readonly callerUrl: string; readonly stub: ExternalStub.ExternalStub; readonly database: URL }
>()("test/World") {}

const WorldLive = Layer.unwrap(
  Effect.gen(function* () {
    const { callerUrl, stub } = yield* CallerWorld.start("greeter_test_caller")
    const database = yield* TestDatabase.freshDatabase("greeter_test")
    return Layer.merge(Layer.succeed(World, { callerUrl, stub, database }), TestDatabase.sqlClient(database))
  }),
)

/** A greeter instance for the enclosing scope, configured by `env` on top of the shared world. */
const serveGreeter = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const world = yield* World
    return yield* TestServer.serve(App, {
      DATABASE_URL: world.database.href,
      CALLER_BASE_URL: world.callerUrl,
      EXTERNAL_API_URL: world.stub.url,
      ...env,
    })
  })

/** Greet over Connect JSON, as a browser sends it, on a greeter configured by `env`. */
const greeter = (env: Record<string, string>) =>
  Effect.map(
    serveGreeter(env),
    (base) => (name: string | undefined) =>
      Effect.promise(async () => {
        const response = await fetch(`${base}/greeter.v1.GreeterService/Greet`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(name === undefined ? {} : { name }),
        })
        return { status: response.status, body: (await response.json()) as Record<string, unknown> }
      }),
  )

const scrape = (base: string) =>
  Effect.promise(async () => PrometheusText.parse(await (await fetch(`${base}/metrics`)).text()))

const greetingsFor = (name: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ message: string; external_status: number }>`
      SELECT message, external_status FROM greetings WHERE name = ${name}`,
  )

layer(WorldLive, { excludeTestServices: true, timeout: "60 seconds" })("greeter with our caller", (it) => {
  for (const protocol of ["rpc", "connect"] as const) {
    describe(`CALLER_PROTOCOL=${protocol}`, () => {
      it.effect("greets with caller's status and length, and records the greeting before answering", () =>
        Effect.gen(function* () {
          const greet = yield* greeter({ CALLER_PROTOCOL: protocol })
          const name = `Ada-${protocol}`
          const answer = yield* greet(name)
          assert.strictEqual(answer.status, 200)
          assert.deepStrictEqual(answer.body, {
            message: `Hello ${name} from greeter-service!`,
            externalStatus: 200,
            externalBodyLength: ExternalStub.HOME_PAGE.length,
          })
          // Synchronous write: the row is there the moment the answer is.
          assert.deepStrictEqual(yield* greetingsFor(name), [
            { message: `Hello ${name} from greeter-service!`, external_status: 200 },
          ])
        }),
      )

      it.effect("an empty name greets World; caller's answer status passes through", () =>
        Effect.gen(function* () {
          const world = yield* World
          const greet = yield* greeter({ CALLER_PROTOCOL: protocol, EXTERNAL_API_URL: `${world.stub.url}/status/404` })
          for (const name of [undefined, ""]) {
            const answer = yield* greet(name)
            assert.strictEqual(answer.body.message, "Hello World from greeter-service!")
            assert.strictEqual(answer.body.externalStatus, 404)
          }
        }),
      )

      it.effect("caller's invalid_argument reaches the client unchanged", () =>
        Effect.gen(function* () {
          const greet = yield* greeter({ CALLER_PROTOCOL: protocol, EXTERNAL_API_URL: "not a url" })
          const answer = yield* greet("x")
          assert.strictEqual(answer.status, 400)
          assert.strictEqual(answer.body.code, "invalid_argument")
        }),
      )

      it.effect("caller down: unavailable", () =>
        Effect.gen(function* () {
          const greet = yield* greeter({ CALLER_PROTOCOL: protocol, CALLER_BASE_URL: "http://127.0.0.1:1" })
          const answer = yield* greet("x")
          assert.strictEqual(answer.body.code, "unavailable")
        }),
      )

      it.effect("an external API slower than the 2 s deadline: deadline_exceeded, after about 2 s", () =>
        Effect.gen(function* () {
          const world = yield* World
          const greet = yield* greeter({ CALLER_PROTOCOL: protocol, EXTERNAL_API_URL: `${world.stub.url}/slow/5000` })
          const started = Date.now()
          const answer = yield* greet("slow")
          const took = Date.now() - started
          assert.strictEqual(answer.body.code, "deadline_exceeded")
          assert.isTrue(took >= 1900 && took < 3000, `took ${took} ms`)
          assert.strictEqual((yield* greetingsFor("slow")).length, 0)
        }),
      )
    })
  }

  it.effect("the client's deadline travels: caller over Connect is sent connect-timeout-ms of what is left", () =>
    Effect.gen(function* () {
      // A stand-in caller (h2c) that notes each call's connect-timeout-ms and answers unavailable.
      const seen: Array<string | undefined> = []
      const capture = yield* Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<http2.Http2Server>((resolve) => {
              const server = http2.createServer((request, response) => {
                seen.push(request.headers["connect-timeout-ms"] as string | undefined)
                request.resume()
                response.writeHead(503, { "content-type": "application/json" })
                response.end(JSON.stringify({ code: "unavailable", message: "stand-in" }))
              })
              server.listen(0, "127.0.0.1", () => resolve(server))
            }),
        ),
        (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve()))),
      )
      const callerUrl = `http://127.0.0.1:${(capture.address() as net.AddressInfo).port}`
      const base = yield* serveGreeter({ CALLER_PROTOCOL: "connect", CALLER_BASE_URL: callerUrl })
      const greet = (headers: Record<string, string>) =>
        Effect.promise(async () => {
          const response = await fetch(`${base}/greeter.v1.GreeterService/Greet`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: JSON.stringify({ name: "deadline" }),
          })
          return ((await response.json()) as { code?: string }).code
        })
      assert.strictEqual(yield* greet({ "connect-timeout-ms": "300" }), "unavailable")
      assert.strictEqual(yield* greet({}), "unavailable")
      const [short, none] = seen.map(Number)
      assert.isTrue(short !== undefined && short > 0 && short <= 300, `with 300 ms left: ${seen[0]}`)
      assert.isTrue(none !== undefined && none > 300 && none <= 2000, `without a client deadline, the 2 s: ${seen[1]}`)
    }),
  )

  it.effect("over gRPC a failure is HTTP 200: /metrics counts it by its code, its span continues the client's", () =>
    Effect.gen(function* () {
      const base = yield* serveGreeter({ EXTERNAL_API_URL: "not a url" })
      const client = createClient(GreeterService, createGrpcTransport({ baseUrl: base }))
      const before = yield* scrape(base)
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const error = yield* Effect.promise(() =>
        client
          .greet({ name: "x" }, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } })
          .then(() => undefined, ConnectError.from),
      )
      assert.strictEqual(error?.code, Code.InvalidArgument)
      const after = yield* scrape(base)
      const delta = (name: string, labels: Record<string, string>) =>
        PrometheusText.sum(after, name, labels) - PrometheusText.sum(before, name, labels)
      const greet = { system: "connect_rpc", service: "greeter.v1.GreeterService", method: "Greet" }
      assert.strictEqual(delta("rpc_server_requests_total", { ...greet, code: "invalid_argument" }), 1)
      assert.strictEqual(delta("rpc_server_requests_total", greet), 1)
      assert.strictEqual(
        delta("http_server_requests_total", { route: "/greeter.v1.GreeterService/Greet", status: "200" }),
        1,
        "gRPC answers HTTP 200 and puts the code in its trailers",
      )
      const spans = yield* Effect.flatMap(SpanRecorder, (recorder) => recorder.spans)
      const server = spans.find((span) => span.name === "greeter.v1.GreeterService/Greet" && span.traceId === traceId)
      assert.strictEqual(server?.parentSpanId, "00f067aa0ba902b7")
      assert.strictEqual(server?.attributes.get("rpc.connect_rpc.error_code"), "invalid_argument")
    }).pipe(Effect.provide(SpanRecorder.layer)),
  )

  it.effect("a name longer than the column holds is invalid_argument, not a lost greeting", () =>
    Effect.gen(function* () {
      const greet = yield* greeter({})
      const answer = yield* greet("n".repeat(256))
      assert.strictEqual(answer.body.code, "invalid_argument")
      assert.strictEqual((yield* greet("n".repeat(255))).status, 200)
    }),
  )
})
