import * as http from "node:http"
import * as http2 from "node:http2"
import type * as net from "node:net"
import { NodeHttpServer, NodeHttpServerRequest, type NodeServices } from "@effect/platform-node"
import { Effect, Layer, Metric, Option } from "effect"
import type { Etag, HttpPlatform, HttpServer } from "effect/http"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Deadline from "./Deadline.ts"
import * as HttpTelemetry from "./HttpTelemetry.ts"
import * as Metrics from "./Metrics.ts"
import { type HttpLimits, ServiceConfig } from "./ServiceConfig.ts"

/** What every HTTP/2 connection starts with (RFC 9113 §3.4); nothing else does. */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

const startsLikePreface = (chunk: Buffer) => {
  const length = Math.min(chunk.length, PREFACE.length)
  return chunk.subarray(0, length).equals(PREFACE.subarray(0, length))
}

/** Why the server closed a connection itself, as `http_server_connections_closed_total` labels it. */
export type CloseReason =
  | "unclassified_timeout"
  | "request_timeout"
  | "idle_timeout"
  | "http2_idle_timeout"
  | "bad_request"
  | "too_many_connections"

export const connectionsClosed = Metric.counter("http_server_connections_closed_total", {
  description: "Connections the server closed itself: a client too slow, idle, malformed, or one too many",
})

export const CLOSE_REASONS: ReadonlyArray<CloseReason> = [
  "unclassified_timeout",
  "request_timeout",
  "idle_timeout",
  "http2_idle_timeout",
  "bad_request",
  "too_many_connections",
]

export const defaultLimits: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  http2IdleTimeoutMs: 60_000,
  maxConnections: 10_000,
  maxConcurrentStreams: 100,
  maxRequestBytes: 4 * 1024 * 1024,
}

/** What a client error is answered with before its connection is closed (Node's own choices). */
const clientErrorAnswer = (code: string | undefined) =>
  code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? "408 Request Timeout"
    : code === "HPE_HEADER_OVERFLOW"
      ? "431 Request Header Fields Too Large"
      : "400 Bad Request"

/**
 * One listening socket for HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c), as the
 * original services offer: browsers and curl speak HTTP/1.1, grpcurl and connect-go speak h2c.
 * Node has no server for both, so each new connection is classified by its first bytes and
 * handed to an `http.Server` or an `http2.Server`; HTTP/2 requests and sessions are re-emitted
 * on the HTTP/1.1 server, which is the one Effect's `NodeHttpServer` serves and closes.
 *
 * No client holds a socket for good: a connection is classified within the headers timeout;
 * HTTP/1.1 requests must arrive within theirs (408), an idle connection is closed; an HTTP/2
 * session that goes quiet gets a GOAWAY, and one whose client closed its side is destroyed
 * (a bare preface then FIN used to leave the socket open forever). Connections beyond
 * `maxConnections` are dropped, streams beyond `maxConcurrentStreams` refused by the protocol.
 * Each closing is counted by reason (`closed`).
 */
export const makeDualProtocolServer = (
  limits: HttpLimits = defaultLimits,
  closed: (reason: CloseReason) => void = () => {},
): http.Server => {
  const h1 = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often the two timeouts above are enforced (Node's default is every 30 s).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  })
  h1.timeout = limits.idleTimeoutMs
  h1.maxConnections = limits.maxConnections
  h1.on("drop", () => closed("too_many_connections"))
  h1.on("timeout", (socket: net.Socket) => {
    closed("idle_timeout")
    socket.destroy()
  })
  // `Expect: 100-continue`: a body announced larger than the service reads is refused before
  // the client sends it; any other gets its 100 and is served as usual.
  h1.on("checkContinue", (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (Number(request.headers["content-length"] ?? 0) > limits.maxRequestBytes) {
      response.writeHead(413, { "content-type": "text/plain", connection: "close" })
      response.end(`request body larger than ${limits.maxRequestBytes} bytes\n`)
      return
    }
    response.writeContinue()
    h1.emit("request", request, response)
  })
  h1.on("clientError", (error: NodeJS.ErrnoException, socket: net.Socket) => {
    // Headers or body too slow (Node tells them apart only by which timeout it checked).
    closed(error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "request_timeout" : "bad_request")
    if (socket.writable && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.end(`HTTP/1.1 ${clientErrorAnswer(error.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    }
    socket.destroy()
  })
  const h2 = http2.createServer({
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams },
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 1000,
  })
  h2.setTimeout(limits.http2IdleTimeoutMs)
  // The client's SETTINGS must follow its preface at once (RFC 9113 §3.4); a session without them
  // by the headers timeout is a client that sent the preface and left, or never meant to speak.
  h2.on("session", (session: http2.Http2Session) => {
    const timer = setTimeout(() => {
      closed("unclassified_timeout")
      session.destroy()
    }, limits.headersTimeoutMs)
    timer.unref()
    session.once("remoteSettings", () => clearTimeout(timer))
    session.once("close", () => clearTimeout(timer))
  })
  h2.on("timeout", (session: http2.Http2Session) => {
    closed("http2_idle_timeout")
    // GOAWAY first: a well-behaved client finishes what it has in flight and goes.
    session.close()
    setTimeout(() => session.destroy(), 1000).unref()
  })
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
      socket.off("timeout", silent)
      socket.setTimeout(0)
      socket.unshift(received)
      if (startsLikePreface(received)) {
        // HTTP/2 has no half-close: a client that ends its side is gone. Node's session would
        // keep waiting for its SETTINGS on a socket nobody else will ever close.
        socket.once("end", () => socket.destroy())
        h2.emit("connection", socket)
      } else {
        for (const listener of serveHttp1) listener.call(h1, socket)
      }
    }
    // Until a protocol owns the socket, nobody else would handle its errors or its silence.
    const abandon = () => socket.destroy()
    const silent = () => {
      closed("unclassified_timeout")
      socket.destroy()
    }
    socket.on("readable", classify)
    socket.once("error", abandon)
    socket.once("end", abandon)
    socket.once("timeout", silent)
    socket.setTimeout(limits.headersTimeoutMs)
  })
  // A path starting `//` reads as a URL with a host of its own (`//` with none at all made a 500):
  // the leading slashes are one, as every router means them.
  h1.prependListener("request", (request: http.IncomingMessage) => {
    if (request.url?.startsWith("//")) request.url = `/${request.url.replace(/^\/+/, "")}`
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

/** The server with the service's limits, its closings counted in the service's metrics. */
const dualProtocolServer = Effect.gen(function* () {
  const config = yield* ServiceConfig
  const context = yield* Effect.context<never>()
  const series = new Map(
    CLOSE_REASONS.map((reason) => [reason, Metric.withAttributes(connectionsClosed, { reason })] as const),
  )
  yield* Effect.forEach(series.values(), (counter) => Metric.update(counter, 0), { discard: true })
  return () => makeDualProtocolServer(config.http, (reason) => series.get(reason)?.updateUnsafe(1, context))
})

/**
 * The HTTP server on `PORT`. On SIGTERM/SIGINT it stops accepting, lets in-flight requests
 * finish for up to `SHUTDOWN_TIMEOUT_MS` (HTTP/2 clients get a GOAWAY), then the layers it was
 * built on (database pool, queues, telemetry) close in reverse order.
 */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServiceConfig
    return NodeHttpServer.layer(yield* dualProtocolServer, {
      port: config.port,
      ...(Option.isSome(config.host) ? { host: config.host.value } : {}),
      gracefulShutdownTimeout: config.shutdownTimeout,
    })
  }),
)

/** The same server on an ephemeral loopback port, for tests. */
export const layerTest = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServiceConfig
    return NodeHttpServer.layer(yield* dualProtocolServer, {
      port: 0,
      host: "127.0.0.1",
      gracefulShutdownTimeout: config.shutdownTimeout,
    })
  }),
)

/**
 * A response Node would refuse to write (a header value with CR LF or NUL, a bad header name)
 * becomes a logged 500 here, before Node sees it: written as it was, it threw inside the
 * server, the error went nowhere and the connection hung. Values built from anything a client
 * controls (token claims) are the usual way in.
 */
export const writableResponse = <E, R>(
  httpApp: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  Effect.flatMap(httpApp, (response) => {
    for (const [name, value] of Object.entries(response.headers)) {
      try {
        http.validateHeaderName(name)
        http.validateHeaderValue(name, value)
      } catch {
        return Effect.as(
          Effect.logError(
            `answered 500: the response header ${JSON.stringify(name)} cannot be written (${JSON.stringify(value)})`,
          ),
          HttpServerResponse.text("internal error\n", { status: 500 }),
        )
      }
    }
    return Effect.succeed(response)
  })

/**
 * A request still running when the server stops waiting for it (`SHUTDOWN_TIMEOUT_MS` passed)
 * is answered `503 {"error":"the service is shutting down"}` and logged, one JSON line each,
 * instead of the empty 503 the server would cut it with. (Connect calls answer `unavailable` in
 * their own protocol first: see `Connect.mountAdapter`.) A client that left gets nothing.
 */
export const answerWhenStopped = <E, R>(
  httpApp: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) =>
    Effect.onInterrupt(httpApp, () =>
      Effect.flatMap(Deadline.remaining, (left) => {
        // Interrupted because the request's own deadline passed: `Deadline.fromRequest` answers 504.
        if (left !== undefined && left <= 0) return Effect.void
        const response = NodeHttpServerRequest.toServerResponse(request) as http.ServerResponse
        if (response.headersSent || response.writableEnded || response.destroyed) return Effect.void
        response.writeHead(503, { "content-type": "application/json", connection: "close" })
        response.end(JSON.stringify({ error: "the service is shutting down" }))
        return Effect.logWarning(
          `${HttpTelemetry.knownMethod(request.method)} ${request.url} answered 503: the service stopped before it finished`,
        )
      }),
    ),
  )

/**
 * `answerWhenStopped` around each route's handler: inside the server's own handling of the
 * request, which would otherwise answer the interruption (an empty 503) before an outer
 * middleware could.
 */
const answerWhenStoppedRoutes = HttpRouter.middleware((httpApp) => answerWhenStopped(httpApp)).layer

/**
 * Serves the service's routes, and `GET /metrics`, on the server: every request counted, timed
 * and traced (`HttpTelemetry`), run within the deadline its `x-request-timeout-ms` gives
 * (`Deadline`), every response checked for what Node can write. Effect's
 * per-request access log is off: at thousands of requests a second it would dominate the
 * output; requests are traced and measured instead.
 */
export const serve = <A, E, R>(routes: Layer.Layer<A, E, R>, options: HttpTelemetry.TracingOptions = {}) =>
  HttpRouter.serve(
    HttpTelemetry.traceRoutes(
      Layer.merge(routes, Metrics.routes).pipe(Layer.provide(answerWhenStoppedRoutes)),
      options,
    ),
    {
      disableLogger: true,
      middleware: (httpApp) =>
        HttpTelemetry.measure(answerWhenStopped(writableResponse(Deadline.fromRequest(httpApp)))),
    },
  ).pipe(Layer.provide(HttpTelemetry.disableDefaultSpans))
