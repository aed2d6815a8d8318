import { PassThrough } from "node:stream"
import { Duration, Effect, Schedule } from "effect"
import { type Middleware, plainText, respond, type UpstreamUnreachable } from "../Exchange.ts"
import { atMost, type NodeRequest } from "../Proxy.ts"
import { settings } from "../Routes.ts"

/** Why a body cannot be sent again: larger than the edge keeps, or the client failed sending it. */
type Unsendable = { readonly _tag: "TooLarge" } | { readonly _tag: "ClientFailed" }

/**
 * The request body as the first attempt streams it upstream, with a copy kept for a resend: a
 * retry is only possible when the upstream gave no response at all, and then it needs the whole
 * body again. Nothing waits for the body before the first attempt starts (the upstream reads it
 * as the client sends it); the copy is kept up to `limit` bytes, past which the first attempt's
 * own limit answers 413.
 */
const keptBody = (request: NodeRequest, limit: number) => {
  const chunks: Array<Buffer> = []
  let size = 0
  let ended = false
  let failed = false
  const waiting: Array<() => void> = []
  const settle = () => {
    for (const resume of waiting.splice(0)) resume()
  }
  const first = new PassThrough()
  // The first attempt's stream sets the pace while it reads; a resend needs the rest regardless.
  first.on("drain", () => request.resume())
  request.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (size <= limit) chunks.push(chunk)
    if (!first.destroyed && !first.write(chunk)) request.pause()
  })
  request.once("end", () => {
    ended = true
    first.end()
    settle()
  })
  request.once("error", (error: Error) => {
    failed = true
    first.destroy(error)
    settle()
  })
  return {
    first,
    /** The whole body, read to its end from the client if the first attempt stopped reading. */
    whole: Effect.callback<Buffer | undefined, Unsendable>((resume) => {
      const answer = () =>
        resume(
          failed
            ? Effect.fail({ _tag: "ClientFailed" })
            : size > limit
              ? Effect.fail({ _tag: "TooLarge" })
              : Effect.succeed(chunks.length === 0 ? undefined : Buffer.concat(chunks)),
        )
      // The first attempt is over: what it did not read is kept, not offered to it.
      first.destroy()
      if (ended || failed) return answer()
      waiting.push(answer)
      request.resume()
    }),
  }
}

/**
 * Traefik's retry: on a network error (the upstream gave no response at all), up to `attempts`
 * attempts with exponential backoff from `initialIntervalMs` (100 ms, then 200 ms). An upstream
 * that answered, whatever the status, is never asked again. The body streams to the first
 * attempt as it arrives, and a copy is kept for a resend (a body too large to keep is refused
 * with 413, as Traefik's buffering does).
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
    Effect.suspend(() => {
      const method = exchange.request.method ?? "GET"
      if (method === "GET" || method === "HEAD" || exchange.body !== undefined) {
        return Effect.retry(next(exchange), schedule)
      }
      const body = keptBody(exchange.request, maxBodyBytes)
      exchange.body = atMost(body.first, maxBodyBytes)
      let attempts = 0
      const attempt = Effect.suspend(() => {
        if (attempts++ === 0) return next(exchange)
        // Sent again whole: the upstream gave no response to the attempts before.
        return Effect.matchEffect(body.whole, {
          onFailure: (unsendable) =>
            unsendable._tag === "TooLarge"
              ? respond(exchange, 413, plainText, "Request Entity Too Large")
              : respond(exchange, 400, plainText, "Bad Request"),
          onSuccess: (whole) => {
            exchange.body = whole ?? Buffer.alloc(0)
            return next(exchange)
          },
        })
      })
      return Effect.retry(attempt, schedule)
    })
}
