import { NodeHttpServerRequest } from "@effect/platform-node"
import * as Console from "@platform/contracts/Console"
import * as HttpTelemetry from "@platform/shared/HttpTelemetry"
import { Effect, Layer, Option } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse, HttpStaticServer } from "effect/http"
import { EdgeConfig } from "../Config.ts"
import { Edge } from "../Edge.ts"
import type { NodeRequest, NodeResponse } from "../Proxy.ts"
import { match, type Route, servedRoutes } from "../Routes.ts"

/** What `/` shows when no web console is configured: where the APIs are. */
const placeholder = `<!doctype html>
<html><head><meta charset="utf-8"><title>effect-platform</title></head>
<body style="font-family: system-ui; max-width: 40rem; margin: 3rem auto">
<h1>effect-platform edge</h1>
<p>No web console is served here (set <code>EDGE_WEB_DIR</code> or <code>EDGE_WEB_URL</code>). The APIs:</p>
<ul>
<li><code>POST /auth/register</code>, <code>POST /auth/login</code></li>
<li><code>POST /greeter.v1.GreeterService/Greet</code> (Connect, gRPC, gRPC-Web; needs a bearer token)</li>
<li><code>POST /gateway.v1.GatewayService/InvokeCustom</code> (needs a bearer token)</li>
<li><code>GET /ping</code></li>
</ul></body></html>
`

/** `GET /ping` (Traefik's own health) and everything else through the edge's routing table. */
export const EdgeRoutes = Layer.mergeAll(
  HttpRouter.add("GET", "/ping", HttpServerResponse.text("OK")),
  Layer.unwrap(
    Effect.gen(function* () {
      const edge = yield* Edge
      const config = yield* EdgeConfig
      const site = Option.isSome(config.webDir)
        ? Option.some(yield* HttpStaticServer.make({ root: config.webDir.value, spa: true }))
        : Option.none()
      const noConsole = Option.isNone(site) && Option.isNone(config.upstreams.web)
      const table = servedRoutes(Option.isSome(config.upstreams.dashboard))
      const dispatch = (request: HttpServerRequest.HttpServerRequest, route: Route) =>
        Effect.gen(function* () {
          if (route.upstream === "web") {
            if (Option.isSome(site)) return HttpServerResponse.setHeaders(yield* site.value, Console.headers)
            if (noConsole) return HttpServerResponse.html(placeholder)
          }
          yield* edge.handle(
            NodeHttpServerRequest.toIncomingMessage(request) as NodeRequest,
            NodeHttpServerRequest.toServerResponse(request) as NodeResponse,
            route,
          )
          // The edge wrote the answer itself; Effect's server leaves an ended response alone.
          return HttpServerResponse.empty()
        })
      return HttpRouter.add(
        "*",
        "*",
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          // The one place the route is matched: everything after works on this route.
          // `//x` or `*` must not be read as a URL of their own: the path is whatever follows the host.
          const route = match(URL.parse(`http://edge/${request.url.replace(/^\/+/, "")}`)?.pathname ?? "/", table)
          if (route === undefined) return HttpServerResponse.text("404 page not found", { status: 404 })
          // Counted and traced by the routing table's route, as Traefik does by router.
          const template = route.prefix.endsWith("/") ? `${route.prefix}*` : `${route.prefix}/*`
          yield* HttpTelemetry.setRoute(template)
          return yield* dispatch(request, route).pipe(
            HttpTelemetry.withServerSpan(`${HttpTelemetry.knownMethod(request.method)} ${template}`, request, {
              "http.route": template,
            }),
          )
        }),
      )
    }),
  ),
)
