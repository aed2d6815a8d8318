import type * as http from "node:http"
import { Clock, Context, Duration, Effect, Layer, Option, type Tracer } from "effect"
import { HttpTraceContext } from "effect/http"
import { Client, type Dispatcher, Pool } from "undici"
import * as Cors from "./Cors.ts"
import { EdgeConfig } from "./EdgeConfig.ts"
import { forward, type Headers, type NodeRequest, type NodeResponse, requestHeaders } from "./Proxy.ts"
import { RateLimiter } from "./RateLimiter.ts"
import { type Middleware, match, type Route, settings, type Upstream } from "./Routes.ts"

/** One request on its way through the edge. */
interface Exchange {
  readonly request: NodeRequest
  readonly response: NodeResponse
  readonly route: Route
  readonly path: string
  /** What goes upstream: the client's headers, forwarding headers, what forward-auth copied. */
  readonly upstreamHeaders: Headers
  /** Added to whatever answers the client (CORS). */
  responseHeaders: Headers
  retry: boolean
}

/** Headers the client must not set itself: they come from auth's answer only. */
const TRUSTED = settings.auth.copiedHeaders.map((name) => name.toLowerCase())

/** Bodies are buffered only where a retry may have to send them again. */
const MAX_REPLAYED_BODY = 16 * 1024 * 1024

const clientAddress = (request: NodeRequest) => request.socket?.remoteAddress ?? "unknown"

const write = (exchange: Exchange, status: number, headers: Headers, body: string | Uint8Array = "") => {
  const response = exchange.response as http.ServerResponse
  if (response.headersSent || response.destroyed) return
  response.writeHead(status, {
    ...headers,
    ...exchange.responseHeaders,
    "content-length": String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength),
  })
  response.end(body)
}

const readBody = (request: NodeRequest) =>
  Effect.callback<Buffer | undefined, Error>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_REPLAYED_BODY) {
        request.destroy()
        resume(Effect.fail(new Error(`request body over ${MAX_REPLAYED_BODY} bytes`)))
      } else chunks.push(chunk)
    })
    request.on("end", () => resume(Effect.succeed(chunks.length === 0 ? undefined : Buffer.concat(chunks))))
    request.on("error", (error) => resume(Effect.fail(error)))
  })

/**
 * The local edge: Traefik's routing and middlewares for the platform, on the kernel's server
 * (HTTP/1.1 and h2c on one port). Connect JSON and binary, gRPC-Web and gRPC pass through with
 * their trailers; Connect services are reached over h2c, like the original's Traefik does.
 */
export class Edge extends Context.Service<
  Edge,
  {
    /** The route for a path; `undefined` only if the table had no `/` route. */
    readonly route: (path: string) => Route | undefined
    readonly handle: (request: NodeRequest, response: NodeResponse) => Effect.Effect<void>
  }
>()("edge/Edge") {
  static readonly layer = Layer.effect(
    Edge,
    Effect.gen(function* () {
      const config = yield* EdgeConfig
      const limiter = new RateLimiter(config.rateAverage, config.rateBurst)

      const dispatcherFor = (origin: string, h2c: boolean): Dispatcher =>
        h2c
          ? new Client(origin, { allowH2: true, h2Options: { useH2c: true }, pipelining: 1 })
          : new Pool(origin, { connections: 64 })
      const dispatchers = new Map<Upstream, { origin: string; dispatcher: Dispatcher }>()
      for (const route of [
        { upstream: "greeter" as const, h2c: true },
        { upstream: "gateway" as const, h2c: true },
        { upstream: "auth" as const, h2c: false },
      ]) {
        const origin = config.upstreams[route.upstream]
        dispatchers.set(route.upstream, { origin, dispatcher: dispatcherFor(origin, route.h2c) })
      }
      if (Option.isSome(config.upstreams.web)) {
        dispatchers.set("web", {
          origin: config.upstreams.web.value,
          dispatcher: dispatcherFor(config.upstreams.web.value, false),
        })
      }
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => Promise.all([...dispatchers.values()].map(({ dispatcher }) => dispatcher.close()))),
      )
      const auth = dispatchers.get("auth")?.dispatcher as Dispatcher
      const authOrigin = config.upstreams.auth

      /** A client span around one request to an upstream; its `traceparent` goes with it. */
      const clientSpan = <A, E>(
        method: string,
        origin: string,
        path: string,
        f: (span: Tracer.Span) => Effect.Effect<A, E>,
        attributes: Record<string, unknown> = {},
      ) =>
        Effect.useSpan(
          method,
          {
            kind: "client",
            attributes: { "http.request.method": method, "url.full": new URL(path, origin).href, ...attributes },
          },
          f,
        )

      /** Traefik's forward-auth: auth's `GET /verify` decides; its X-User-* headers go upstream. */
      const forwardAuth = (exchange: Exchange, next: Effect.Effect<void>) =>
        Effect.gen(function* () {
          const { request } = exchange
          const headers: Headers = { ...exchange.upstreamHeaders }
          delete headers["content-length"]
          delete headers["content-type"]
          headers["x-forwarded-method"] = request.method ?? "GET"
          headers["x-forwarded-uri"] = request.url ?? "/"
          const answer = yield* clientSpan("GET", authOrigin, settings.auth.verifyPath, (span) =>
            Effect.tryPromise({
              try: async (signal) => {
                const traced = { ...headers, ...HttpTraceContext.toHeaders(span) }
                const result = await auth.request({
                  path: settings.auth.verifyPath,
                  method: "GET",
                  headers: traced,
                  signal,
                })
                span.attribute("http.response.status_code", result.statusCode)
                return {
                  status: result.statusCode,
                  headers: result.headers,
                  body: Buffer.from(await result.body.arrayBuffer()),
                }
              },
              catch: (error) => error as Error,
            }),
          ).pipe(Effect.option)
          if (Option.isNone(answer)) {
            return write(exchange, 502, { "content-type": "text/plain" }, "Bad Gateway")
          }
          const { status, headers: verdict, body } = answer.value
          if (status < 200 || status >= 300) {
            const passed: Headers = {}
            for (const [name, value] of Object.entries(verdict)) {
              if (
                value !== undefined &&
                !["connection", "keep-alive", "transfer-encoding", "content-length"].includes(name)
              ) {
                passed[name] = value
              }
            }
            return write(exchange, status, passed, body)
          }
          for (const name of TRUSTED) {
            const value = verdict[name]
            if (typeof value === "string") exchange.upstreamHeaders[name] = value
          }
          yield* next
        })

      const middleware: Record<Middleware, (exchange: Exchange, next: Effect.Effect<void>) => Effect.Effect<void>> = {
        cors: (exchange, next) =>
          Effect.suspend(() => {
            const { request } = exchange
            if (Cors.isPreflight(request.method ?? "", request.headers)) {
              return Effect.sync(() => write(exchange, 200, Cors.preflightHeaders(request.headers, config.corsOrigins)))
            }
            exchange.responseHeaders = {
              ...exchange.responseHeaders,
              ...Cors.responseHeaders(request.headers, config.corsOrigins),
            }
            return next
          }),
        auth: forwardAuth,
        "rate-limit": (exchange, next) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            limiter.allow(clientAddress(exchange.request), now)
              ? next
              : Effect.sync(() => write(exchange, 429, { "content-type": "text/plain" }, "Too Many Requests")),
          ),
        retry: (exchange, next) =>
          Effect.suspend(() => {
            exchange.retry = true
            return next
          }),
      }

      /** To the upstream, with Traefik's retry on network errors (no response) when asked. */
      const proxy = (exchange: Exchange) =>
        Effect.gen(function* () {
          const target = dispatchers.get(exchange.route.upstream)
          if (target === undefined) return write(exchange, 404, { "content-type": "text/plain" }, "404 page not found")
          const method = exchange.request.method ?? "GET"
          const hasBody = method !== "GET" && method !== "HEAD"
          const attempts = exchange.retry ? settings.retry.attempts : 1
          const body =
            exchange.retry && hasBody
              ? yield* Effect.orElseSucceed(readBody(exchange.request), () => undefined)
              : undefined
          for (let attempt = 1; attempt <= attempts; attempt++) {
            // Each attempt is a client span of its own; the upstream continues from it.
            const outcome = yield* clientSpan(
              method,
              target.origin,
              exchange.path,
              (span) =>
                Effect.promise(() =>
                  forward({
                    dispatcher: target.dispatcher,
                    method,
                    path: exchange.path,
                    headers: { ...exchange.upstreamHeaders, ...HttpTraceContext.toHeaders(span) },
                    body: exchange.retry ? body : hasBody ? (exchange.request as http.IncomingMessage) : undefined,
                    response: exchange.response,
                    extraResponseHeaders: exchange.responseHeaders,
                  }),
                ).pipe(
                  Effect.tap((outcome) =>
                    Effect.sync(() => {
                      if (outcome._tag === "Answered") {
                        span.attribute("http.response.status_code", exchange.response.statusCode)
                      } else span.attribute("error.type", outcome.error.name)
                    }),
                  ),
                ),
              attempt > 1 ? { "http.request.resend_count": attempt - 1 } : {},
            )
            if (outcome._tag === "Answered") return
            if (attempt === attempts) {
              yield* Effect.logWarning(`${exchange.route.upstream} did not answer: ${outcome.error.message}`)
              return write(exchange, 502, { "content-type": "text/plain" }, "Bad Gateway")
            }
            yield* Effect.sleep(Duration.millis(settings.retry.initialIntervalMs * 2 ** (attempt - 1)))
          }
        })

      const handle = (request: NodeRequest, response: NodeResponse) =>
        Effect.suspend(() => {
          const path = request.url ?? "/"
          const route = match(new URL(path, "http://edge").pathname)
          if (route === undefined) {
            return Effect.sync(() => {
              ;(response as http.ServerResponse).writeHead(404, { "content-type": "text/plain" })
              response.end("404 page not found")
            })
          }
          const upstreamHeaders = requestHeaders(request)
          for (const name of TRUSTED) delete upstreamHeaders[name]
          const forwardedFor = upstreamHeaders["x-forwarded-for"]
          const address = clientAddress(request)
          upstreamHeaders["x-forwarded-for"] = forwardedFor === undefined ? address : `${forwardedFor}, ${address}`
          upstreamHeaders["x-forwarded-proto"] ??= "http"
          upstreamHeaders["x-forwarded-host"] ??= String(upstreamHeaders.host ?? "")
          upstreamHeaders["x-real-ip"] = address
          const exchange: Exchange = {
            request,
            response,
            route,
            path,
            upstreamHeaders,
            responseHeaders: {},
            retry: false,
          }
          const chain = route.middlewares.reduceRight<Effect.Effect<void>>(
            (next, name) => middleware[name](exchange, next),
            Effect.suspend(() => proxy(exchange)),
          )
          return chain
        })

      return Edge.of({ route: (path) => match(path), handle })
    }),
  )
}
