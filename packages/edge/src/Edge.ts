import type * as http from "node:http"
import { trustedProxies } from "@platform/shared/ClientAddress"
import * as HttpTelemetry from "@platform/shared/HttpTelemetry"
import { ServiceConfig } from "@platform/shared/ServiceConfig"
import { Context, Effect, Layer, Option } from "effect"
import { EdgeConfig } from "./Config.ts"
import { type Exchange, type Handler, type Middleware, plainText, respond, UpstreamUnreachable } from "./Exchange.ts"
import * as Forwarding from "./Forwarding.ts"
import { cors } from "./middleware/Cors.ts"
import { exportVerdicts, forwardAuth, TRUSTED } from "./middleware/ForwardAuth.ts"
import { rateLimit } from "./middleware/RateLimit.ts"
import { retry } from "./middleware/Retry.ts"
import * as VerdictCache from "./middleware/VerdictCache.ts"
import { atMost, forward, isBodyTooLarge, type NodeRequest, type NodeResponse, requestHeaders } from "./Proxy.ts"
import { type MiddlewareName, type Route, servedRoutes, settings, UNREACHABLE_HEADER } from "./Routes.ts"
import * as Upstreams from "./Upstreams.ts"

/**
 * The local edge: Traefik's routing and middlewares for the platform, on the kernel's server
 * (HTTP/1.1 and h2c on one port). Each route's chain (its middlewares, in the table's order, then
 * the proxy) is composed once; a request runs the chain of the route it matched. Connect JSON
 * and binary, gRPC-Web and gRPC pass through with their trailers; Connect services are reached
 * over h2c, as the original's Traefik does.
 */
export class Edge extends Context.Service<
  Edge,
  { readonly handle: (request: NodeRequest, response: NodeResponse, route: Route) => Effect.Effect<void> }
>()("edge/Edge") {
  static readonly layer = Layer.effect(
    Edge,
    Effect.gen(function* () {
      const config = yield* EdgeConfig
      const { maxRequestBytes } = (yield* ServiceConfig).http
      const upstreams = yield* Upstreams.make
      const proxies = trustedProxies(config.trustedProxies)
      const auth = upstreams.get("auth")
      if (auth === undefined) return yield* Effect.die(new Error("the routing table has no auth upstream"))

      const verdicts = VerdictCache.make({ ttlMs: config.authCacheMs })
      yield* exportVerdicts
      const middlewares: Record<MiddlewareName, Middleware> = {
        cors: cors({ origins: config.corsOrigins, headers: config.corsHeaders }),
        auth: forwardAuth(auth, verdicts),
        "rate-limit": rateLimit(config.rateAverage, config.rateBurst),
        retry: retry({ ...settings.retry, restartWindowMs: config.restartWindowMs }, maxRequestBytes),
      }

      /** The end of every chain: the request to the route's upstream, in a client span per attempt. */
      const proxy: Handler = (exchange) => {
        const target = upstreams.get(exchange.route.upstream)
        if (target === undefined) return respond(exchange, 404, plainText, "404 page not found")
        const method = exchange.request.method ?? "GET"
        const attributes = { "http.request.method": method, "url.full": new URL(exchange.path, target.origin).href }
        return HttpTelemetry.withClientSpan(method, attributes, (traceHeaders, span) =>
          Effect.flatMap(
            Effect.promise(() =>
              forward({
                dispatcher: target.dispatcher,
                method,
                path: exchange.path,
                headers: { ...exchange.upstreamHeaders, ...traceHeaders },
                body:
                  exchange.body ??
                  (method === "GET" || method === "HEAD"
                    ? undefined
                    : atMost(exchange.request as http.IncomingMessage, maxRequestBytes)),
                response: exchange.response,
                extraResponseHeaders: exchange.responseHeaders,
              }),
            ),
            (outcome) => {
              if (outcome._tag === "Answered") {
                span.attribute("http.response.status_code", exchange.response.statusCode)
                // Once auth has answered, a session it ended is ended for the kept verdicts too.
                if (exchange.route.upstream === "auth") {
                  verdicts.answered(method, exchange.path, exchange.response.statusCode)
                }
                return Effect.void
              }
              span.attribute("error.type", outcome.error.name)
              if (isBodyTooLarge(outcome.error)) {
                return respond(exchange, 413, plainText, `request body larger than ${maxRequestBytes} bytes`)
              }
              return Effect.fail(
                new UpstreamUnreachable({
                  upstream: exchange.route.upstream,
                  message: outcome.error.message,
                  refused: (outcome.error as { code?: unknown }).code === "ECONNREFUSED",
                }),
              )
            },
          ),
        )
      }

      const chains = new Map<Route, Handler>(
        servedRoutes(Option.isSome(config.upstreams.dashboard)).map((route) => [
          route,
          route.middlewares.reduceRight((next, name) => middlewares[name](next), proxy),
        ]),
      )

      const handle = (request: NodeRequest, response: NodeResponse, route: Route) =>
        Effect.suspend(() => {
          const upstreamHeaders = requestHeaders(request)
          for (const name of TRUSTED) delete upstreamHeaders[name]
          const client = Forwarding.forward(upstreamHeaders, request.socket?.remoteAddress ?? "unknown", proxies)
          const exchange: Exchange = {
            request,
            response,
            route,
            path: request.url ?? "/",
            client,
            upstreamHeaders,
            responseHeaders: {},
          }
          // Refused before a byte of it is read, like the kernel's own servers (MAX_REQUEST_BYTES).
          if (Number(request.headers["content-length"] ?? 0) > maxRequestBytes) {
            return respond(exchange, 413, plainText, `request body larger than ${maxRequestBytes} bytes`)
          }
          const chain = chains.get(route) ?? proxy
          return chain(exchange).pipe(
            Effect.catchTag("UpstreamUnreachable", (error) =>
              Effect.andThen(
                Effect.logWarning(`${error.upstream} did not answer: ${error.message}`),
                // Traefik's answer, and which service did not answer: a console can name it.
                respond(exchange, 502, { ...plainText, [UNREACHABLE_HEADER]: error.upstream }, "Bad Gateway"),
              ),
            ),
          )
        })

      return Edge.of({ handle })
    }),
  )
}
