import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import type { RpcCode } from "./RpcCode.ts"

/**
 * The gateway's contract beyond the proto (`gateway.v1.GatewayService/InvokeCustom`): the codes
 * its failures answer with, and `GET /resilience`, a snapshot of the breaker and the budget.
 */

/** The contract's table of lang statuses to codes. */
export const codeOfLangStatus = (status: number): RpcCode => {
  switch (status) {
    case 400:
      return "invalid_argument"
    case 401:
      return "unauthenticated"
    case 403:
      return "permission_denied"
    case 404:
      return "not_found"
    case 409:
      return "already_exists"
    case 429:
      return "resource_exhausted"
    case 502:
    case 503:
      return "unavailable"
    case 504:
      return "deadline_exceeded"
    default:
      return status >= 500 ? "internal" : "unknown"
  }
}

/** lang's statuses a retry may help with (with a network-level timeout, the contract's "retryable"). */
export const RETRYABLE_LANG_STATUSES: ReadonlyArray<number> = [429, 502, 503, 504]

/** The codes of InvokeCustom's other failures, as the contract words them (and ours beyond it). */
export const invokeCodes = {
  /** The breaker is open, or half-open and already letting its calls through. */
  breakerRejected: "unavailable",
  /** An attempt got no answer within its timeout (a network-level timeout). */
  attemptTimedOut: "deadline_exceeded",
  /** lang could not be reached, or answered something that is not the contract. */
  langFailed: "internal",
  /** Beyond: the bulkhead in front of lang is full (calls running and waiting at their limits). */
  bulkheadRejected: "resource_exhausted",
  /** Beyond: a name that cannot be recorded. */
  invalidName: "invalid_argument",
  /** Beyond: an `Idempotency-Key` used before for another name. */
  idempotencyKeyReused: "invalid_argument",
  /** Beyond: another call with the same `Idempotency-Key` is still running. */
  idempotencyKeyInFlight: "aborted",
} as const satisfies Record<string, RpcCode>

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
    /** While open: milliseconds until it lets probes through (half-open). */
    halfOpenInMs: Schema.optional(Schema.Int),
  }),
  /**
   * bucket: `tokens` of `capacity`, refilled at `refillPerSecond`. ratio: `tokens` retries left in
   * the window, which allows `ratio` of its requests plus `capacity` (`refillPerSecond` × window).
   */
  budget: Schema.Struct({
    mode: Schema.Literals(["bucket", "ratio"]),
    tokens: Schema.Number,
    capacity: Schema.Number,
    refillPerSecond: Schema.Number,
    ratio: Schema.optional(Schema.Number),
    windowMs: Schema.optional(Schema.Int),
  }),
  /** Calls to lang running and waiting now, and the limits beyond which a call is refused at once. */
  bulkhead: Schema.optional(
    Schema.Struct({
      inFlight: Schema.Int,
      queued: Schema.Int,
      maxConcurrent: Schema.Int,
      maxQueued: Schema.Int,
    }),
  ),
})
export type ResilienceSnapshot = typeof ResilienceSnapshot.Type

export class ResilienceGroup extends HttpApiGroup.make("resilience").add(
  HttpApiEndpoint.get("snapshot", "/resilience", { success: ResilienceSnapshot }),
) {}

export class GatewayApi extends HttpApi.make("gateway").add(ResilienceGroup) {}
