import * as HttpTelemetry from "@platform/shared/HttpTelemetry"
import * as Metrics from "@platform/shared/Metrics"
import { Effect, Metric, Option } from "effect"
import type { Dispatcher } from "undici"
import { type Exchange, type Handler, type Middleware, plainText, respond } from "../Exchange.ts"
import type { Headers } from "../Proxy.ts"
import { settings } from "../Routes.ts"
import type { VerdictCache } from "./VerdictCache.ts"

/** Headers the client must not set itself: they come from auth's answer only. */
export const TRUSTED = settings.auth.copiedHeaders.map((name) => name.toLowerCase())

/** Of verify's refusal, everything but what belongs to its own connection goes to the client. */
const CONNECTION_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"])

/** Requests forward-auth let through or refused, by where the verdict came from. */
export const verdicts = Metric.counter("edge_auth_verdicts_total", {
  description: "Forward-auth verdicts, by source: auth (asked) or kept (auth's yes to the same token a moment ago)",
  incremental: true,
})
const asked = Metric.withAttributes(verdicts, { source: "auth" })
const kept = Metric.withAttributes(verdicts, { source: "kept" })
/** On the edge's server span of a request let through on a kept verdict (auth was not asked). */
export const VERDICT_ATTRIBUTE = "edge.auth.verdict"

/** Both series from zero, so that the first kept verdict shows in `increase()`. */
export const exportVerdicts = Metrics.atZero(verdicts, [{ source: "auth" }, { source: "kept" }])

/**
 * Traefik's forward-auth: auth's `GET /verify` decides, with the request's headers and
 * `X-Forwarded-Method`/`-Uri`; a 2xx lets the request through with auth's `X-User-*` headers
 * copied onto it, anything else is the client's answer as auth gave it, and no answer is a 502.
 * A token auth said yes to a moment ago goes through on that verdict (`VerdictCache`).
 */
export const forwardAuth = (
  auth: { readonly origin: string; readonly dispatcher: Dispatcher },
  cache: VerdictCache,
): Middleware => {
  const path = settings.auth.verifyPath
  const attributes = { "http.request.method": "GET", "url.full": new URL(path, auth.origin).href }

  /** Auth's verdict on this request; a yes is kept for its token (`authorization`), when it has one. */
  const ask = (exchange: Exchange, next: Handler, authorization: string | undefined) =>
    Effect.gen(function* () {
      const { request } = exchange
      const headers: Headers = { ...exchange.upstreamHeaders }
      delete headers["content-length"]
      delete headers["content-type"]
      headers["x-forwarded-method"] = request.method ?? "GET"
      headers["x-forwarded-uri"] = request.url ?? "/"
      yield* Metric.update(asked, 1)
      const epoch = cache.epoch()
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
      const copied: Headers = {}
      for (const name of TRUSTED) {
        const value = verdict[name]
        if (typeof value === "string") copied[name] = value
      }
      Object.assign(exchange.upstreamHeaders, copied)
      if (authorization !== undefined) cache.keep(authorization, copied, Date.now(), epoch)
      return yield* next(exchange)
    })

  return (next) => (exchange) =>
    Effect.suspend(() => {
      const authorization = exchange.upstreamHeaders.authorization
      if (typeof authorization !== "string") return ask(exchange, next, undefined)
      const verdict = cache.get(authorization, Date.now())
      if (verdict === undefined) return ask(exchange, next, authorization)
      Object.assign(exchange.upstreamHeaders, verdict)
      // No span of auth's in this trace: the edge's own says where the yes came from.
      return Effect.andThen(
        Effect.andThen(Metric.update(kept, 1), Effect.annotateCurrentSpan(VERDICT_ATTRIBUTE, "kept")),
        next(exchange),
      )
    })
}
