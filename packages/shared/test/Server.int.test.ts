import * as http from "node:http"
import * as http2 from "node:http2"
import * as net from "node:net"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Exit, Fiber, Layer, Logger, Scope } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { jsonLogger } from "../src/Logging.ts"
import * as Server from "../src/Server.ts"

const Routes = Layer.mergeAll(
  HttpRouter.add(
    "GET",
    "/hello",
    Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
      HttpServerResponse.text(`hello over HTTP/${NodeHttpServerRequest.toIncomingMessage(request).httpVersion}\n`),
    ),
  ),
  HttpRouter.add("GET", "/slow", Effect.as(Effect.sleep("600 millis"), HttpServerResponse.text("done\n"))),
)

const App = Server.serve(Routes).pipe(
  Layer.provideMerge(Server.layerTest),
  Layer.provide(TestServer.config({ name: "server-test", port: 1 }, { SHUTDOWN_TIMEOUT_MS: "5000" })),
)

const http1Get = (base: string, path: string, agent: http.Agent | false = false) =>
  new Promise<{ status: number; body: string; version: string; connection?: string }>((resolve, reject) => {
    http
      .get(`${base}${path}`, { agent }, (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk) => {
          body += chunk
        })
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            body,
            version: response.httpVersion,
            ...(response.headers.connection === undefined ? {} : { connection: response.headers.connection }),
          }),
        )
      })
      .on("error", reject)
  })

const http2Get = (base: string, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const session = http2.connect(base)
    session.on("error", reject)
    const stream = session.request({ ":path": path })
    let status = 0
    let body = ""
    stream.setEncoding("utf8")
    stream.on("response", (headers) => {
      status = Number(headers[":status"])
    })
    stream.on("data", (chunk) => {
      body += chunk
    })
    stream.on("end", () => {
      session.close()
      resolve({ status, body })
    })
    stream.on("error", reject)
    stream.end()
  })

describe("Server", () => {
  it.live("serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on the same port", () =>
    Effect.gen(function* () {
      const base = yield* TestServer.baseUrl
      const one = yield* Effect.promise(() => http1Get(base, "/hello"))
      assert.deepStrictEqual(one, { status: 200, body: "hello over HTTP/1.1\n", version: "1.1", connection: "close" })
      const two = yield* Effect.promise(() => http2Get(base, "/hello"))
      assert.deepStrictEqual(two, { status: 200, body: "hello over HTTP/2.0\n" })
      // Both at once, several times over, on the one listener.
      const mixed = yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? http1Get(base, "/hello") : http2Get(base, "/hello"))),
        ),
      )
      assert.isTrue(mixed.every((response) => response.status === 200))
    }).pipe(Effect.provide(App)),
  )

  it.live("a client whose first bytes arrive a few at a time is still classified right", () =>
    Effect.gen(function* () {
      const target = Number(new URL(yield* TestServer.baseUrl).port)
      // A proxy that trickles the start of every connection to the server three bytes at a time.
      const proxy = yield* Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<net.Server>((resolve) => {
              const server = net.createServer((client) => {
                const upstream = net.connect(target, "127.0.0.1")
                let trickled = 0
                client.on("data", async (chunk: Buffer) => {
                  client.pause()
                  for (let i = 0; i < chunk.length; i += 3) {
                    upstream.write(chunk.subarray(i, i + 3))
                    if (trickled++ < 12) await new Promise((r) => setTimeout(r, 5))
                  }
                  client.resume()
                })
                upstream.pipe(client)
                client.on("end", () => upstream.end())
                client.on("error", () => upstream.destroy())
                upstream.on("error", () => client.destroy())
              })
              server.listen(0, "127.0.0.1", () => resolve(server))
            }),
        ),
        (server) => Effect.sync(() => server.close()),
      )
      const address = proxy.address() as net.AddressInfo
      const viaProxy = `http://127.0.0.1:${address.port}`
      const two = yield* Effect.promise(() => http2Get(viaProxy, "/hello"))
      assert.deepStrictEqual(two, { status: 200, body: "hello over HTTP/2.0\n" })
      const one = yield* Effect.promise(() => http1Get(viaProxy, "/hello"))
      assert.deepStrictEqual(one, { status: 200, body: "hello over HTTP/1.1\n", version: "1.1", connection: "close" })
    }).pipe(Effect.provide(App)),
  )

  it.live("on shutdown, in-flight requests finish (HTTP/1.1 and HTTP/2) and new connections are refused", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(App, scope)
      const base = yield* TestServer.baseUrl.pipe(Effect.provide(context))
      const keepAlive = new http.Agent({ keepAlive: true })
      // Warm a keep-alive connection: the drain must close it after its in-flight response.
      assert.strictEqual((yield* Effect.promise(() => http1Get(base, "/hello", keepAlive))).connection, "keep-alive")
      const inFlight = Promise.all([http1Get(base, "/slow", keepAlive), http2Get(base, "/slow")] as const)
      yield* Effect.sleep("100 millis")
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* Effect.sleep("100 millis")
      const refused = yield* Effect.promise(() =>
        http1Get(base, "/hello").then(
          () => false,
          (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED",
        ),
      )
      const [one, two] = yield* Effect.promise(() => inFlight)
      yield* Fiber.join(closing)
      assert.isTrue(refused, "a new connection during the drain must be refused")
      assert.deepStrictEqual([one.status, one.body, one.connection], [200, "done\n", "close"])
      assert.deepStrictEqual(two, { status: 200, body: "done\n" })
      keepAlive.destroy()
    }),
  )

  it.live("a request still running when the shutdown timeout passes is answered 503 JSON, and logged", () =>
    Effect.gen(function* () {
      const lines: Array<{ level: string; message: string }> = []
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Server.serve(
          HttpRouter.add("GET", "/stuck", Effect.as(Effect.sleep("10 seconds"), HttpServerResponse.text("late\n"))),
        ).pipe(
          Layer.provideMerge(Server.layerTest),
          Layer.provide(TestServer.config({ name: "server-test", port: 1 }, { SHUTDOWN_TIMEOUT_MS: "300" })),
          Layer.provide(Logger.layer([jsonLogger("server-test", (line) => lines.push(JSON.parse(line)))])),
        ),
        scope,
      )
      const base = yield* TestServer.baseUrl.pipe(Effect.provide(context))
      const stuck = Promise.all([http1Get(base, "/stuck"), http2Get(base, "/stuck")] as const)
      yield* Effect.sleep("100 millis")
      yield* Scope.close(scope, Exit.void)
      const [one, two] = yield* Effect.promise(() => stuck)
      assert.deepStrictEqual([one.status, one.body], [503, '{"error":"the service is shutting down"}'])
      assert.deepStrictEqual(two, { status: 503, body: '{"error":"the service is shutting down"}' })
      const said = lines.filter(
        (line) => line.message === "GET /stuck answered 503: the service stopped before it finished",
      )
      assert.strictEqual(said.length, 2, "one JSON line per request")
    }),
  )
})
