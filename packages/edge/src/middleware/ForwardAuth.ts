import * as HttpTelemetry from "@platform/shared/HttpTelemetry"
import { Effect, Option } from "effect"
import type { Dispatcher } from "undici"
import { type Middleware, plainText, respond } from "../Exchange.ts"
import type { Headers } from "../Proxy.ts"
import { settings } from "../Routes.ts"

/** Headers the client must not set itself: they come from auth's answer only. */
export const TRUSTED = settings.auth.copiedHeaders.map((name) => name.toLowerCase())

/** Of verify's refusal, everything but what belongs to its own connection goes to the client. */
const CONNECTION_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"])

/**
 * Traefik's forward-auth: auth's `GET /verify` decides, with the request's headers and
 * `X-Forwarded-Method`/`-Uri`; a 2xx lets the request through with auth's `X-User-*` headers
 * copied onto it, anything else is the client's answer as auth gave it, and no answer is a 502.
 */
export const forwardAuth =
  (auth: { readonly origin: string; readonly dispatcher: Dispatcher }): Middleware =>
  (next) =>
  (exchange) =>
    Effect.gen(function* () {
      const { request } = exchange
      const headers: Headers = { ...exchange.upstreamHeaders }
      delete headers["content-length"]
      delete headers["content-type"]
      headers["x-forwarded-method"] = request.method ?? "GET"
      headers["x-forwarded-uri"] = request.url ?? "/"
      const path = settings.auth.verifyPath
      const attributes = { "http.request.method": "GET", "url.full": new URL(path, auth.origin).href }
      const answer = yield* HttpTelemetry.withClientSpan("GET", attributes, (traceHeaders, span) =>
        Effect.tryPromise(async (signal) => {
          const result = await auth.dispatcher.request({
            path,
            method: "GET",
            headers: { ...headers, ...traceHeaders },
            signal,
          })
          span.attribute("http.response.status_code", result.statusCode)
          return {
            status: result.statusCode,
            headers: result.headers,
            body: Buffer.from(await result.body.arrayBuffer()),
          }
        }),
      ).pipe(Effect.option)
      if (Option.isNone(answer)) return yield* respond(exchange, 502, plainText, "Bad Gateway")
      const { status, headers: verdict, body } = answer.value
      if (status < 200 || status >= 300) {
        const passed: Headers = {}
        for (const [name, value] of Object.entries(verdict)) {
          if (value !== undefined && !CONNECTION_HEADERS.has(name)) passed[name] = value
        }
        return yield* respond(exchange, status, passed, body)
      }
      for (const name of TRUSTED) {
        const value = verdict[name]
        if (typeof value === "string") exchange.upstreamHeaders[name] = value
      }
      return yield* next(exchange)
    })
