import * as http from "node:http"
import * as http2 from "node:http2"
import type * as net from "node:net"
import { NodeHttpServer, type NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import type { Etag, HttpPlatform, HttpServer } from "effect/http"
import { HttpRouter } from "effect/http"
import * as HttpTelemetry from "./HttpTelemetry.ts"
import * as Metrics from "./Metrics.ts"
import { ServiceConfig } from "./ServiceConfig.ts"

/** What every HTTP/2 connection starts with (RFC 9113 §3.4); nothing else does. */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

/** A connection that sends nothing at all is dropped after this long. */
const UNCLASSIFIED_TIMEOUT_MS = 30_000

const startsLikePreface = (chunk: Buffer) => {
  const length = Math.min(chunk.length, PREFACE.length)
  return chunk.subarray(0, length).equals(PREFACE.subarray(0, length))
}

/**
 * One listening socket for HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c), as the
 * original services offer: browsers and curl speak HTTP/1.1, grpcurl and connect-go speak h2c.
 * Node has no server for both, so each new connection is classified by its first bytes and
 * handed to an `http.Server` or an `http2.Server`; HTTP/2 requests and sessions are re-emitted
 * on the HTTP/1.1 server, which is the one Effect's `NodeHttpServer` serves and closes.
 */
export const makeDualProtocolServer = (options: http.ServerOptions & http2.ServerOptions = {}): http.Server => {
  const h1 = http.createServer(options)
  const h2 = http2.createServer(options)
  const serveHttp1 = h1.listeners("connection") as Array<(socket: net.Socket) => void>
  h1.removeAllListeners("connection")
  h1.on("connection", (socket: net.Socket) => {
    let received = Buffer.alloc(0)
    const classify = () => {
      let chunk: Buffer | null
      // biome-ignore lint/suspicious/noAssignInExpressions: the usual stream read loop
      while ((chunk = socket.read() as Buffer | null) !== null) received = Buffer.concat([received, chunk])
      // A client may send the preface in pieces: wait until enough of it has arrived to decide.
      if (received.length === 0 || (received.length < PREFACE.length && startsLikePreface(received))) return
      socket.off("readable", classify)
      socket.off("error", abandon)
      socket.off("end", abandon)
      socket.off("timeout", abandon)
      socket.setTimeout(0)
      socket.unshift(received)
      if (startsLikePreface(received)) h2.emit("connection", socket)
      else for (const listener of serveHttp1) listener.call(h1, socket)
    }
    // Until a protocol owns the socket, nobody else would handle its errors or its silence.
    const abandon = () => socket.destroy()
    socket.on("readable", classify)
    socket.once("error", abandon)
    socket.once("end", abandon)
    socket.once("timeout", abandon)
    socket.setTimeout(UNCLASSIFIED_TIMEOUT_MS)
  })
  h2.on("request", (request, response) => h1.emit("request", request, response))
  h2.on("session", (session) => h1.emit("session", session))
  drainKeepAlive(h1)
  return h1
}

/**
 * `close()` stops accepting and closes idle connections, but a keep-alive connection that is
 * busy when the drain starts would stay open after its response (and keep serving its client)
 * until the keep-alive timeout. While draining, every HTTP/1.1 response asks its client to
 * close the connection, and a connection is closed as soon as its response is done.
 */
const drainKeepAlive = (server: http.Server) => {
  let draining = false
  const open = new Set<http.ServerResponse>()
  server.prependListener("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (request.httpVersionMajor !== 1) return
    if (draining) response.shouldKeepAlive = false
    open.add(response)
    response.once("close", () => open.delete(response))
  })
  const close = server.close.bind(server)
  server.close = (callback) => {
    draining = true
    for (const response of open) {
      if (!response.headersSent) response.shouldKeepAlive = false
      else response.once("finish", () => setImmediate(() => server.closeIdleConnections()))
    }
    return close(callback)
  }
}

/** What a running server gives the routes it serves (files, etags, the platform). */
export type Services = HttpServer.HttpServer | NodeServices.NodeServices | HttpPlatform.HttpPlatform | Etag.Generator

/**
 * The HTTP server on `PORT`. On SIGTERM/SIGINT it stops accepting, lets in-flight requests
 * finish for up to `SHUTDOWN_TIMEOUT_MS` (HTTP/2 clients get a GOAWAY), then the layers it was
 * built on (database pool, queues, telemetry) close in reverse order.
 */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServiceConfig
    return NodeHttpServer.layer(() => makeDualProtocolServer(), {
      port: config.port,
      gracefulShutdownTimeout: config.shutdownTimeout,
    })
  }),
)

/** The same server on an ephemeral loopback port, for tests. */
export const layerTest = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServiceConfig
    return NodeHttpServer.layer(() => makeDualProtocolServer(), {
      port: 0,
      host: "127.0.0.1",
      gracefulShutdownTimeout: config.shutdownTimeout,
    })
  }),
)

/**
 * Serves the service's routes, and `GET /metrics`, on the server: every request counted, timed
 * and traced (`HttpTelemetry`). Effect's per-request access log is off: at thousands of
 * requests a second it would dominate the output; requests are traced and measured instead.
 */
export const serve = <A, E, R>(routes: Layer.Layer<A, E, R>, options: HttpTelemetry.TracingOptions = {}) =>
  HttpRouter.serve(HttpTelemetry.traceRoutes(Layer.merge(routes, Metrics.routes), options), {
    disableLogger: true,
    middleware: HttpTelemetry.measure,
  }).pipe(Layer.provide(HttpTelemetry.disableDefaultSpans))
