import { Clock, Context, Effect, Schema } from "effect"
import { HttpClient, HttpClientRequest, HttpServerRequest, HttpServerResponse } from "effect/http"
import { RpcClient } from "effect/rpc"

/**
 * Deadlines across hops (Moleculer's distributed timeouts, gRPC's deadline propagation): the
 * moment by which whoever waits for a request has stopped waiting travels with the request's
 * fiber, and every call made on its behalf is given what is left of it, and says so to the next
 * hop. A downstream then stops working for an answer nobody will read.
 *
 * In: Connect's `connect-timeout-ms` and gRPC's `grpc-timeout` (read by the Connect adapter), and
 * `x-request-timeout-ms` on REST and Effect RPC (`fromRequest`, in every server's middleware).
 * Out: `outbound` gives a call the remaining time less a margin (for the answer's way back),
 * capped by the call's own timeout, or fails at once with `DeadlineExceeded` when nothing is left;
 * the caller sends it on as `connect-timeout-ms`, `grpc-timeout` or `x-request-timeout-ms`.
 */

/** The header our REST and Effect RPC clients and servers carry a deadline in: milliseconds left. */
export const HEADER = "x-request-timeout-ms"

/** Left for the answer to travel back, and for the caller to record it, when a call is sent on. */
export const DEFAULT_MARGIN_MS = 5

/** The deadline of the current fiber's request, as epoch milliseconds; `undefined`: none. */
export const CurrentDeadline = Context.Reference<number | undefined>("@platform/shared/Deadline", {
  defaultValue: () => undefined,
})

/** The deadline passed before the call could be sent: there was no time left to give it. */
export class DeadlineExceeded extends Schema.TaggedError<DeadlineExceeded>()("DeadlineExceeded", {
  message: Schema.String,
}) {}

/** Runs `effect` with a deadline `ms` from now, or the one it already has if that is sooner. */
export const within =
  (ms: number) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(Effect.service(CurrentDeadline), (current) => {
        const deadline = now + Math.max(0, ms)
        return Effect.provideService(
          effect,
          CurrentDeadline,
          current === undefined ? deadline : Math.min(current, deadline),
        )
      }),
    )

/** Milliseconds left before the current deadline (never negative); `undefined` without one. */
export const remaining: Effect.Effect<number | undefined> = Effect.flatMap(
  Effect.service(CurrentDeadline),
  (deadline) =>
    deadline === undefined
      ? Effect.undefined
      : Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, deadline - now)),
)

/**
 * The time an outbound call may take: what is left of the deadline less `margin`, at most
 * `upTo` (the call's own timeout). Without a deadline, `upTo`. Fails with `DeadlineExceeded`
 * when nothing is left, so the call is not sent.
 */
export const outbound = (
  upTo: number | undefined,
  margin: number = DEFAULT_MARGIN_MS,
): Effect.Effect<number | undefined, DeadlineExceeded> =>
  Effect.flatMap(remaining, (left) => {
    if (left === undefined) return Effect.succeed(upTo)
    const budget = Math.floor(left - margin)
    if (budget <= 0) {
      return Effect.fail(
        new DeadlineExceeded({ message: `the deadline passed before the call could be sent (${left} ms left)` }),
      )
    }
    return Effect.succeed(upTo === undefined ? budget : Math.min(upTo, budget))
  })

/** `x-request-timeout-ms`'s value: a whole number of milliseconds (at most 8 digits, as Connect's). */
export const parseHeader = (raw: string | undefined): number | "invalid" | undefined => {
  if (raw === undefined) return undefined
  const value = raw.trim()
  return /^\d{1,8}$/.test(value) ? Number(value) : "invalid"
}

/**
 * Server middleware: a request carrying `x-request-timeout-ms` runs with that deadline, and is
 * answered `504 {"error":"deadline exceeded"}` (interrupted) if it has not finished by then; a
 * malformed value is a `400`. Requests without the header are untouched.
 */
export const fromRequest = <E, R>(
  httpApp: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) => {
    const ms = parseHeader(request.headers[HEADER])
    if (ms === undefined) return httpApp
    if (ms === "invalid") {
      return Effect.succeed(
        HttpServerResponse.jsonUnsafe(
          { error: `${HEADER} must be a whole number of milliseconds (at most 8 digits)` },
          { status: 400 },
        ),
      )
    }
    return httpApp.pipe(
      Effect.timeoutOrElse({
        duration: ms,
        orElse: () => Effect.succeed(HttpServerResponse.jsonUnsafe({ error: "deadline exceeded" }, { status: 504 })),
      }),
      within(ms),
    )
  })

/** What is left to send on: the remaining time less the margin, at least 1 ms. */
const leftToSend = (left: number) => String(Math.max(1, Math.floor(left - DEFAULT_MARGIN_MS)))

/**
 * `client`, sending what is left of the current deadline as `x-request-timeout-ms` with every
 * request made under one (REST clients of our own services).
 */
export const sendOn = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.mapRequestEffect(client, (request) =>
    Effect.map(remaining, (left) =>
      left === undefined ? request : HttpClientRequest.setHeader(request, HEADER, leftToSend(left)),
    ),
  )

/**
 * An Effect RPC call, carrying what is left of the current deadline as an RPC header
 * (`x-request-timeout-ms`, read by the server with `fromRpcHeaders`).
 */
export const sendOnRpc = <A, E, R>(call: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(remaining, (left) =>
    left === undefined ? call : RpcClient.withHeaders(call, { [HEADER]: leftToSend(left) }),
  )

/** An Effect RPC handler, run with the deadline its call's headers carry (if any). */
export const fromRpcHeaders =
  (headers: Readonly<Record<string, string | undefined>>) =>
  <A, E, R>(handler: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const ms = parseHeader(headers[HEADER])
    return typeof ms === "number" ? within(ms)(handler) : handler
  }
