import { RpcCode } from "@platform/contracts/RpcCode"
import { Schema } from "effect"

/** The name cannot be recorded as given (varchar(255), no NUL). */
export class InvalidName extends Schema.TaggedError<InvalidName>()("InvalidName", { message: Schema.String }) {}

/** caller answered with an error of its own, whose code greeter passes on unchanged. */
export class CallerRejected extends Schema.TaggedClass<CallerRejected>()("CallerRejected", {
  code: RpcCode,
  message: Schema.String,
}) {}

/** caller could not be reached, or did not answer as the contract says. */
export class CallerUnreachable extends Schema.TaggedClass<CallerUnreachable>()("CallerUnreachable", {
  message: Schema.String,
}) {}

/** caller did not answer within greeter's deadline. */
export class CallerTimedOut extends Schema.TaggedClass<CallerTimedOut>()("CallerTimedOut", {
  message: Schema.String,
}) {}

/** The call to caller failed; `reason` says how. */
export class CallerFailed extends Schema.TaggedError<CallerFailed>()("CallerFailed", {
  reason: Schema.Union([CallerRejected, CallerUnreachable, CallerTimedOut]),
}) {
  override get message() {
    return this.reason.message
  }
}
