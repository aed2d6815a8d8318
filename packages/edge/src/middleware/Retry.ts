import { Duration, Effect, Schedule } from "effect"
import { type Middleware, plainText, respond, type UpstreamUnreachable } from "../Exchange.ts"
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
 *
 * Beyond Traefik: while the upstream refuses connections it has not seen the request (it is
 * restarting), so trying again is safe whatever the request; that goes on for `restartWindowMs`
 * (backoff capped at 500 ms), so that one replica's restart is a pause, not a burst of 502s.
 */
export const retry = (
  options: {
    readonly attempts: number
    readonly initialIntervalMs: number
    readonly restartWindowMs?: number | undefined
  } = settings.retry,
  maxBodyBytes = 4 * 1024 * 1024,
): Middleware => {
  const restartWindowMs = options.restartWindowMs ?? 0
  const schedule = Schedule.exponential(`${options.initialIntervalMs} millis`).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(500)))),
    Schedule.while(
      ({
        input,
        attempt,
        elapsed,
      }: {
        readonly input: UpstreamUnreachable
        readonly attempt: number
        readonly elapsed: number
      }) => attempt < options.attempts || (input.refused && elapsed < restartWindowMs),
    ),
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
