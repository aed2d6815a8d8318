import type * as http from "node:http"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Clock, Context, Effect, Exit, Layer, Metric, Option, type Tracer } from "effect"
import {
  HttpMiddleware,
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  type HttpServerResponse,
  HttpTraceContext,
} from "effect/http"
import { durationBoundaries, labelled, secondsBetween } from "./Metrics.ts"

/**
 * Requests as Prometheus and OpenTelemetry see them. Every request is counted and timed by the
 * route it matched (`http_server_*`); every routed request runs in a server span named
 * `<METHOD> <route>` that continues the caller's trace (W3C `traceparent`, or B3). Routes that
 * dispatch further name their own spans and routes: the Connect adapter (one span per RPC, as
 * OpenTelemetry's RPC conventions want), Effect RPC, and the edge.
 */

export const requests = Metric.counter("http_server_requests_total", {
  description: "HTTP requests served, by method, route and status",
  incremental: true,
})

export const duration = Metric.histogram("http_server_request_duration_seconds", {
  description: "Time to answer an HTTP request, by method, route and status",
  boundaries: durationBoundaries,
})

const requestSeries = labelled(requests)
const durationSeries = labelled(duration)

export const active = Metric.gauge("http_server_active_requests", {
  description: "HTTP requests being served now",
})

/** What a request turned out to be, filled in by whoever routed it. */
export class RequestRoute extends Context.Service<RequestRoute, { route: string | undefined }>()(
  "platform/RequestRoute",
) {}

/** Names the route the current request is counted under (a template, never a raw path). */
export const setRoute = (route: string) =>
  Effect.map(Effect.serviceOption(RequestRoute), (current) => {
    if (Option.isSome(current)) current.value.route = route
  })

/** How routes are traced, beyond a server span `<METHOD> <route>` for each. */
export interface TracingOptions {
  /** Paths served without a span: probes and scrapes would drown the traces that matter. */
  readonly untraced?: ReadonlyArray<string> | undefined
  /** Effect RPC mount points (`/rpc`): their server names its own spans, after the procedure. */
  readonly rpcPaths?: ReadonlyArray<string> | undefined
}

/** Health and metrics are never traced. */
export const DEFAULT_UNTRACED: ReadonlyArray<string> = ["/healthz", "/readyz", "/metrics"]

/** The status the client got: what was written on the socket, whoever wrote it. */
const statusSent = (request: HttpServerRequest.HttpServerRequest, fallback: number) => {
  const response = NodeHttpServerRequest.toServerResponse(request) as http.ServerResponse
  return response.headersSent ? response.statusCode : fallback
}

/**
 * The server's outermost middleware: it sees the response that was sent (errors already turned
 * into responses, and responses written straight to the socket by the Connect adapter or the
 * edge), so the status it counts is the client's.
 */
export const measure = <E, R>(
  httpApp: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.withFiber((fiber) => {
    const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
    const clock = fiber.getRef(Clock.Clock)
    const start = clock.currentTimeNanosUnsafe()
    const observed: Context.Service.Shape<typeof RequestRoute> = { route: undefined }
    active.modifyUnsafe(1, fiber.context)
    return httpApp.pipe(
      Effect.provideService(RequestRoute, observed),
      Effect.onExit((exit) =>
        Effect.sync(() => {
          const fallback = Exit.isSuccess(exit) ? exit.value.status : 500
          const method = knownMethod(request.method)
          const route = observed.route ?? "unmatched"
          const status = String(statusSent(request, fallback))
          const key = `${method} ${route} ${status}`
          const attributes = () => ({ method, route, status })
          const seconds = secondsBetween(start, clock.currentTimeNanosUnsafe())
          active.modifyUnsafe(-1, fiber.context)
          requestSeries(key, attributes).updateUnsafe(1, fiber.context)
          durationSeries(key, attributes).updateUnsafe(seconds, fiber.context)
        }),
      ),
    )
  })

/**
 * Runs `handler` in a server span `name` for the request, a child of the caller's span when it
 * sent one (W3C `traceparent`, or B3). Only 5xx answers and interruptions mark it failed, as
 * OpenTelemetry's HTTP conventions say; the status is the one the client got.
 */
export const withServerSpan =
  (name: string, request: HttpServerRequest.HttpServerRequest, attributes: Record<string, unknown> = {}) =>
  <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
    Effect.flatMap(
      Effect.makeSpan(name, {
        kind: "server",
        parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)),
        attributes: {
          "http.request.method": knownMethod(request.method),
          "url.path": new URL(request.url, "http://server").pathname,
          ...attributes,
        },
      }),
      (span) =>
        handler.pipe(
          Effect.withParentSpan(span, { captureStackTrace: false }),
          Effect.onExit((exit) =>
            Effect.flatMap(Clock.currentTimeNanos, (now) => Effect.sync(() => endServerSpan(span, request, exit, now))),
          ),
        ),
    )

const endServerSpan = (
  span: Tracer.Span,
  request: HttpServerRequest.HttpServerRequest,
  exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>,
  endTime: bigint,
) => {
  const [response, cause] = Exit.isSuccess(exit)
    ? [exit.value, Option.none()]
    : HttpServerError.causeResponseStripped(exit.cause)
  const status = statusSent(request, response.status)
  span.attribute("http.response.status_code", status)
  if (Option.isSome(cause)) return span.end(endTime, Exit.failCause(cause.value))
  if (status >= 500) {
    span.attribute("error.type", String(status))
    return span.end(
      endTime,
      Exit.fail(
        new HttpServerError.HttpServerError({ reason: new HttpServerError.ResponseError({ request, response }) }),
      ),
    )
  }
  span.end(endTime, Exit.succeed(response))
}

/** HTTP's methods (RFC 9110, and PATCH); any other is `_OTHER`, as OpenTelemetry names it. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"])

/**
 * The method as a label: a client choosing its method must not choose how many series the
 * service keeps (each made-up one would be a new series, for good).
 */
export const knownMethod = (method: string) => (METHODS.has(method) ? method : "_OTHER")

/**
 * Per route: names the request's route for `measure`, and runs the handler in a server span
 * `<METHOD> <route>` (`POST /invoke`), a child of the caller's span when it sent one.
 */
const traceRoute = (options: TracingOptions) => {
  const untraced = new Set(options.untraced ?? DEFAULT_UNTRACED)
  const rpcPaths = new Set(options.rpcPaths ?? [])
  return HttpRouter.middleware((httpApp) =>
    Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      const { route } = Context.getUnsafe(fiber.context, HttpRouter.RouteContext)
      const observed = Context.getOption(fiber.context, RequestRoute)
      if (Option.isSome(observed)) observed.value.route = route.path
      if (rpcPaths.has(route.path)) {
        // Effect RPC over HTTP leaves the trace to HTTP: its server span continues the caller's.
        const parent = HttpTraceContext.fromHeaders(request.headers)
        return Option.isSome(parent) ? Effect.withParentSpan(httpApp, parent.value) : httpApp
      }
      if (untraced.has(route.path) || route.path.endsWith("*")) return httpApp
      return withServerSpan(`${knownMethod(request.method)} ${route.path}`, request, { "http.route": route.path })(
        httpApp,
      )
    }),
  ).layer
}

/** Every route layer given here gets its span and its route name. */
export const traceRoutes = <A, E, R>(routes: Layer.Layer<A, E, R>, options: TracingOptions = {}) =>
  Layer.provide(routes, traceRoute(options))

/** Effect's own server span is named after the method alone: ours replace it. */
export const disableDefaultSpans = Layer.succeed(HttpMiddleware.TracerDisabledWhen)(() => true)

/**
 * Runs `f` in a client span `name` whose W3C trace headers (`traceparent`) `f` sends with its
 * call, for clients that Effect does not trace itself (Connect, undici): the server continues
 * the trace from there.
 */
export const withClientSpan = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  f: (traceHeaders: Readonly<Record<string, string>>, span: Tracer.Span) => Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> =>
  Effect.useSpan(name, { kind: "client", attributes }, (span) => f(HttpTraceContext.toHeaders(span), span))
