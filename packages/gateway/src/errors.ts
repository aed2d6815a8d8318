import { RETRYABLE_LANG_STATUSES } from "@platform/contracts/GatewayApi"
import type { BulkheadRejected } from "@platform/resilience/Bulkhead"
import type { BreakerRejected } from "@platform/resilience/CircuitBreaker"
import type { DeadlineExceeded } from "@platform/shared/Deadline"
import { Schema } from "effect"

export { BulkheadRejected } from "@platform/resilience/Bulkhead"
export { BreakerRejected } from "@platform/resilience/CircuitBreaker"
export { DeadlineExceeded } from "@platform/shared/Deadline"

/** custom-lang-service answered with a status >= 400. */
export class LangRejected extends Schema.TaggedError<LangRejected>()("LangRejected", {
  status: Schema.Int,
  message: Schema.String,
  /** What lang's (or a proxy's) `Retry-After` asked, in milliseconds. */
  retryAfterMs: Schema.optional(Schema.Number),
}) {}

/** One attempt got no answer within the per-attempt timeout (a network-level timeout). */
export class AttemptTimedOut extends Schema.TaggedError<AttemptTimedOut>()("AttemptTimedOut", {
  message: Schema.String,
}) {}

/** custom-lang-service could not be reached, or answered something that is not the contract. */
export class LangFailed extends Schema.TaggedError<LangFailed>()("LangFailed", { message: Schema.String }) {}

/** A name that cannot be invoked and recorded (longer than the column's 255 characters, or NUL). */
export class InvalidName extends Schema.TaggedError<InvalidName>()("InvalidName", { message: Schema.String }) {}

/** How one attempt at lang can fail. */
export type AttemptFailure = LangRejected | AttemptTimedOut | LangFailed

/** How InvokeCustom can fail. */
export type InvokeFailure = AttemptFailure | BreakerRejected | BulkheadRejected | DeadlineExceeded | InvalidName

/** The retry policy's test: lang said 429, 502, 503 or 504, or the attempt timed out. */
export const isRetryable = (failure: AttemptFailure | BreakerRejected | BulkheadRejected | DeadlineExceeded): boolean =>
  failure._tag === "AttemptTimedOut" ||
  (failure._tag === "LangRejected" && RETRYABLE_LANG_STATUSES.includes(failure.status))
