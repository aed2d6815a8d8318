import { Effect, Schedule } from "effect"
import { type Middleware, plainText, respond } from "../Exchange.ts"
import type { NodeRequest } from "../Proxy.ts"
import { settings } from "../Routes.ts"

/** Bodies are read into memory only where a retry may have to send them again, up to this size. */
const MAX_REPLAYED_BODY = 16 * 1024 * 1024

class BodyTooLarge {
  readonly _tag = "BodyTooLarge"
}

const readBody = (request: NodeRequest) =>
  Effect.callback<Buffer | undefined, BodyTooLarge | Error>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_REPLAYED_BODY) chunks.push(chunk)
    })
    request.on("end", () =>
      resume(
        size > MAX_REPLAYED_BODY
          ? Effect.fail(new BodyTooLarge())
          : Effect.succeed(chunks.length === 0 ? undefined : Buffer.concat(chunks)),
      ),
    )
    request.on("error", (error: Error) => resume(Effect.fail(error)))
  })

/**
 * Traefik's retry: on a network error (the upstream gave no response at all), up to `attempts`
 * attempts with exponential backoff from `initialIntervalMs` (100 ms, then 200 ms). An upstream
 * that answered, whatever the status, is never asked again. The body is kept for the resend
 * (a body too large to keep is refused with 413, as Traefik's buffering does).
 */
export const retry = (
  options: { readonly attempts: number; readonly initialIntervalMs: number } = settings.retry,
): Middleware => {
  const schedule = Schedule.exponential(`${options.initialIntervalMs} millis`).pipe(
    Schedule.upTo({ times: options.attempts - 1 }),
  )
  return (next) => (exchange) =>
    Effect.gen(function* () {
      const method = exchange.request.method ?? "GET"
      if (method !== "GET" && method !== "HEAD" && exchange.body === undefined) {
        const body = yield* readBody(exchange.request).pipe(Effect.result)
        if (body._tag === "Failure") {
          return yield* body.failure instanceof BodyTooLarge
            ? respond(exchange, 413, plainText, "Request Entity Too Large")
            : respond(exchange, 400, plainText, "Bad Request")
        }
        exchange.body = body.success
      }
      return yield* Effect.retry(next(exchange), schedule)
    })
}
