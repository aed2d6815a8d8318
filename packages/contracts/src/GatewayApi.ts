import { Code } from "@connectrpc/connect"
import type { Rejection as BreakerRejection } from "@platform/shared/resilience/CircuitBreaker"
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"

/**
 * The gateway's contract beyond the proto (`gateway.v1.GatewayService/InvokeCustom`): its
 * failures and their codes, and `GET /resilience`, a snapshot of the breaker and the budget.
 */

/** custom-lang-service answered with a status >= 400. */
export class LangRejected extends Schema.TaggedError<LangRejected>()("LangRejected", {
  status: Schema.Int,
  message: Schema.String,
}) {}

/** One attempt got no answer within the per-attempt timeout (a network-level timeout). */
export class AttemptTimedOut extends Schema.TaggedError<AttemptTimedOut>()("AttemptTimedOut", {
  message: Schema.String,
}) {}

/** custom-lang-service could not be reached, or answered something that is not the contract. */
export class LangFailed extends Schema.TaggedError<LangFailed>()("LangFailed", { message: Schema.String }) {}

/** A name that cannot be invoked and recorded (longer than the column's 255 characters, or NUL). */
export class InvalidName extends Schema.TaggedError<InvalidName>()("InvalidName", { message: Schema.String }) {}

/** An `Idempotency-Key` was used before for another name. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  message: Schema.String,
}) {}

/** Another call with the same `Idempotency-Key` is still running. */
export class IdempotencyKeyInFlight extends Schema.TaggedError<IdempotencyKeyInFlight>()("IdempotencyKeyInFlight", {
  message: Schema.String,
}) {}

/** The stored failure of an earlier call with the same `Idempotency-Key`, replayed. */
export class ReplayedFailure extends Schema.TaggedError<ReplayedFailure>()("ReplayedFailure", {
  code: Schema.Enum(Code),
  message: Schema.String,
}) {}

export type AttemptFailure = LangRejected | AttemptTimedOut | LangFailed
export type InvokeFailure =
  | AttemptFailure
  | BreakerRejection
  | IdempotencyKeyReused
  | IdempotencyKeyInFlight
  | ReplayedFailure
  | InvalidName

/** The retry policy's test: lang said 429, 502, 503 or 504, or the attempt timed out. */
export const isRetryable = (failure: AttemptFailure | BreakerRejection): boolean =>
  failure._tag === "AttemptTimedOut" ||
  (failure._tag === "LangRejected" && [429, 502, 503, 504].includes(failure.status))

/** The contract's table of lang statuses to codes. */
export const codeOfStatus = (status: number): Code => {
  switch (status) {
    case 400:
      return Code.InvalidArgument
    case 401:
      return Code.Unauthenticated
    case 403:
      return Code.PermissionDenied
    case 404:
      return Code.NotFound
    case 409:
      return Code.AlreadyExists
    case 429:
      return Code.ResourceExhausted
    case 502:
    case 503:
      return Code.Unavailable
    case 504:
      return Code.DeadlineExceeded
    default:
      return status >= 500 ? Code.Internal : Code.Unknown
  }
}

/** The contract's codes for every failure of InvokeCustom. */
export const codeOf = (failure: InvokeFailure): Code => {
  switch (failure._tag) {
    case "BreakerOpen":
    case "BreakerTooManyRequests":
      return Code.Unavailable
    case "AttemptTimedOut":
      return Code.DeadlineExceeded
    case "LangRejected":
      return codeOfStatus(failure.status)
    case "IdempotencyKeyReused":
    case "InvalidName":
      return Code.InvalidArgument
    case "IdempotencyKeyInFlight":
      return Code.Aborted
    case "LangFailed":
      return Code.Internal
    case "ReplayedFailure":
      return failure.code
  }
}

export const Counts = Schema.Struct({
  requests: Schema.Int,
  totalSuccesses: Schema.Int,
  totalFailures: Schema.Int,
  consecutiveSuccesses: Schema.Int,
  consecutiveFailures: Schema.Int,
})

export const ResilienceSnapshot = Schema.Struct({
  breaker: Schema.Struct({
    name: Schema.String,
    state: Schema.Literals(["closed", "half-open", "open"]),
    counts: Counts,
    maxRequests: Schema.Int,
    intervalMs: Schema.Int,
    timeoutMs: Schema.Int,
    consecutiveFailuresToTrip: Schema.Int,
  }),
  budget: Schema.Struct({ tokens: Schema.Number, capacity: Schema.Number, refillPerSecond: Schema.Number }),
})
export type ResilienceSnapshot = typeof ResilienceSnapshot.Type

export class ResilienceGroup extends HttpApiGroup.make("resilience").add(
  HttpApiEndpoint.get("snapshot", "/resilience", { success: ResilienceSnapshot }),
) {}

export class GatewayApi extends HttpApi.make("gateway").add(ResilienceGroup) {}
