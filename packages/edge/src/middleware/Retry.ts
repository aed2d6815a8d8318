import { Effect, Schedule } from "effect"
import { type Middleware, plainText, respond } from "../Exchange.ts"
import type { NodeRequest } from "../Proxy.ts"
import { settings } from "../Routes.ts"

class BodyTooLarge {
  readonly _tag = "BodyTooLarge"
}

/** Bodies are read into memory only where a retry may have to send them again, up to `limit`. */
const readBody = (request: NodeRequest, limit: number) =>
  Effect.callback<Buffer | undefined, BodyTooLarge | Error>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      // Past the limit nothing more is kept or waited for: the client is answered 413.
      request.off("data", onData)
      request.off("end", onEnd)
      resume(Effect.fail(new BodyTooLarge()))
    }
    const onEnd = () => resume(Effect.succeed(chunks.length === 0 ? undefined : Buffer.concat(chunks)))
    request.on("data", onData)
    request.once("end", onEnd)
    request.once("error", (error: Error) => resume(Effect.fail(error)))
  })

/**
 * Traefik's retry: on a network error (the upstream gave no response at all), up to `attempts`
 * attempts with exponential backoff from `initialIntervalMs` (100 ms, then 200 ms). An upstream
 * that answered, whatever the status, is never asked again. The body is kept for the resend
 * (a body too large to keep is refused with 413, as Traefik's buffering does).
 */
export const retry = (
  options: { readonly attempts: number; readonly initialIntervalMs: number } = settings.retry,
  maxBodyBytes = 4 * 1024 * 1024,
): Middleware => {
  const schedule = Schedule.exponential(`${options.initialIntervalMs} millis`).pipe(
    Schedule.upTo({ times: options.attempts - 1 }),
  )
  return (next) => (exchange) =>
    Effect.gen(function* () {
      const method = exchange.request.method ?? "GET"
      if (method !== "GET" && method !== "HEAD" && exchange.body === undefined) {
        const body = yield* readBody(exchange.request, maxBodyBytes).pipe(Effect.result)
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
