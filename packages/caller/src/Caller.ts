import type { CallResult } from "@platform/contracts/CallerRpcs"
import * as Bulkhead from "@platform/resilience/Bulkhead"
import * as BulkheadMetrics from "@platform/resilience/BulkheadMetrics"
import * as Deadline from "@platform/shared/Deadline"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { Context, Duration, Effect, Layer, Stream } from "effect"
import { HttpClient, type HttpClientError, type HttpClientResponse } from "effect/http"
import { CallerConfig } from "./Config.ts"
import * as Errors from "./errors.ts"
import { CallLogQueue } from "./persistence/CallLogQueue.ts"
import * as UrlPolicy from "./UrlPolicy.ts"

/** As many redirects as Go's http.Client (the original caller) follows. */
const MAX_REDIRECTS = 10
const REDIRECTS = new Set([301, 302, 303, 307, 308])

const allowed = (raw: string, policy: UrlPolicy.Policy) => {
  const verdict = UrlPolicy.check(raw, policy)
  switch (verdict._tag) {
    case "Allowed":
      return Effect.succeed(verdict.url)
    case "Invalid":
      return Effect.fail(new Errors.InvalidUrl({ message: verdict.message }))
    case "Denied":
      return Effect.fail(new Errors.UrlNotAllowed({ message: verdict.message }))
  }
}

/** Whether a transport failure came from our own DNS check (a name that resolves into a denied range). */
const deniedByLookup = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if ((current as { code?: unknown }).code === UrlPolicy.DENIED_ADDRESS) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

const unreachable = (url: URL) => (error: HttpClientError.HttpClientError) =>
  deniedByLookup(error)
    ? new Errors.UrlNotAllowed({ message: ErrorMessage.describe(error) })
    : new Errors.ExternalUnreachable({ message: `${url.host}: ${ErrorMessage.describe(error)}` })

/**
 * Fetches URLs for other services: GET with a deadline (`CALLER_TIMEOUT_MS`), any status is an
 * answer, and the body is counted as it streams (never held in memory), up to
 * `CALLER_MAX_BODY_BYTES`, with at most `CALLER_MAX_CONCURRENT` fetches running and
 * `CALLER_MAX_QUEUED` waiting (any more is refused at once). Redirects are followed, each hop checked like the first URL. Every
 * answered call is logged to `call_logs` off the request path.
 */
export class Caller extends Context.Service<
  Caller,
  { readonly callExternal: (url: string) => Effect.Effect<CallResult, Errors.CallError> }
>()("caller/Caller") {
  static readonly layer = Layer.effect(
    Caller,
    Effect.gen(function* () {
      const config = yield* CallerConfig
      const client = yield* HttpClient.HttpClient
      const logs = yield* CallLogQueue
      const policy: UrlPolicy.Policy = {
        denyPrivate: !config.allowPrivateNetworks,
        allowedHosts: config.allowedHosts,
      }
      // One for all external URLs: what it protects is caller itself (its sockets and fibers).
      const bulkhead = yield* Bulkhead.make({
        name: "external URLs",
        maxConcurrent: config.maxConcurrent,
        maxQueued: config.maxQueued,
      })
      yield* BulkheadMetrics.observe(bulkhead)

      const countBody = (response: HttpClientResponse.HttpClientResponse) => {
        let length = 0
        return response.stream.pipe(
          Stream.runForEach((chunk) => {
            length += chunk.length
            return length > config.maxBodyBytes
              ? Effect.fail(
                  new Errors.BodyTooLarge({ message: `the body is larger than ${config.maxBodyBytes} bytes` }),
                )
              : Effect.void
          }),
          Effect.map(() => length),
        )
      }

      const fetchCounting = Effect.fnUntraced(function* (first: URL) {
        let url = first
        for (let hop = 0; ; hop++) {
          const response = yield* client.get(url).pipe(Effect.mapError(unreachable(url)))
          const location = response.headers.location
          if (REDIRECTS.has(response.status) && location !== undefined && hop < MAX_REDIRECTS) {
            yield* Effect.ignore(countBody(response))
            url = yield* allowed(new URL(location, url).href, policy)
            continue
          }
          const bodyLength = yield* countBody(response).pipe(
            Effect.catchTag("HttpClientError", (error) => Effect.fail(unreachable(url)(error))),
          )
          return { statusCode: response.status, bodyLength }
        }
      })

      const callExternal = Effect.fn("Caller.callExternal")(function* (raw: string) {
        const url = yield* allowed(raw, policy)
        // CALLER_TIMEOUT_MS, or what is left of the deadline of the request this call serves.
        const upTo = Duration.toMillis(config.timeout)
        const timeoutMs =
          (yield* Deadline.outbound(upTo, 0).pipe(
            Effect.mapError((spent) => new Errors.ExternalTimeout({ message: spent.message })),
          )) ?? upTo
        const result = yield* fetchCounting(url).pipe(
          Effect.timeoutOrElse({
            duration: timeoutMs,
            orElse: () =>
              Effect.fail(
                new Errors.ExternalTimeout({
                  message: `${url.host} did not answer within ${Duration.format(Duration.millis(timeoutMs))}`,
                }),
              ),
          }),
          bulkhead.execute,
          Effect.catchTag("BulkheadRejected", (busy) => Effect.fail(new Errors.CallerBusy({ message: busy.message }))),
        )
        yield* logs.offer({ url: raw, status_code: result.statusCode, body_length: result.bodyLength })
        return result
      })

      return Caller.of({ callExternal })
    }),
  )
}
