import type { IncomingHttpHeaders } from "node:http"
import { Effect } from "effect"
import { type Middleware, respond } from "../Exchange.ts"
import { settings } from "../Routes.ts"

/**
 * Traefik's CORS headers middleware with the contract's settings. A preflight is answered by
 * the edge itself (200, no body); other requests get the allow-origin and exposed headers
 * when their origin is allowed, and `Vary: Origin` always.
 */
export const isPreflight = (method: string, headers: IncomingHttpHeaders) =>
  method === "OPTIONS" && headers.origin !== undefined && headers["access-control-request-method"] !== undefined

const allowedOrigin = (origin: string | undefined, allowed: ReadonlyArray<string>) =>
  origin === undefined ? undefined : allowed.includes("*") ? "*" : allowed.includes(origin) ? origin : undefined

/** Who may call, and with which request headers: the edge's configuration. */
export interface Policy {
  readonly origins: ReadonlyArray<string>
  readonly headers: ReadonlyArray<string>
}

export const preflightHeaders = (headers: IncomingHttpHeaders, policy: Policy) => {
  const origin = allowedOrigin(headers.origin, policy.origins)
  return {
    "access-control-allow-methods": settings.cors.methods.join(","),
    "access-control-allow-headers": policy.headers.join(","),
    "access-control-max-age": String(settings.cors.maxAgeSeconds),
    vary: "Origin",
    ...(origin === undefined ? {} : { "access-control-allow-origin": origin }),
  }
}

export const responseHeaders = (headers: IncomingHttpHeaders, policy: Policy) => {
  const origin = allowedOrigin(headers.origin, policy.origins)
  return {
    vary: "Origin",
    ...(origin === undefined
      ? {}
      : {
          "access-control-allow-origin": origin,
          "access-control-expose-headers": settings.cors.exposedHeaders.join(","),
        }),
  }
}

/** The middleware: answers preflights itself, adds the headers to everything else. */
export const cors =
  (policy: Policy): Middleware =>
  (next) =>
  (exchange) =>
    Effect.suspend(() => {
      const { request } = exchange
      if (isPreflight(request.method ?? "", request.headers)) {
        return respond(exchange, 200, preflightHeaders(request.headers, policy))
      }
      exchange.responseHeaders = { ...exchange.responseHeaders, ...responseHeaders(request.headers, policy) }
      return next(exchange)
    })
