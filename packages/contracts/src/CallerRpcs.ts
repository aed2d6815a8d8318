import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import type { RpcCode } from "./RpcCode.ts"

/**
 * caller's contract for our own services (Effect RPC on `/rpc`): what greeter calls. The same
 * operation is served as `caller.v1.CallerService/CallExternal` over Connect, gRPC and gRPC-Web
 * for everyone else (see `proto-compat`); both share the errors below and their codes.
 */

/** Not an absolute http(s) URL. */
export class InvalidUrl extends Schema.TaggedError<InvalidUrl>()("InvalidUrl", { message: Schema.String }) {}

/** A link-local address (the cloud metadata endpoint) or a host outside `CALLER_ALLOWED_HOSTS`. */
export class UrlNotAllowed extends Schema.TaggedError<UrlNotAllowed>()("UrlNotAllowed", { message: Schema.String }) {}

/** The external server did not answer within the deadline. */
export class ExternalTimeout extends Schema.TaggedError<ExternalTimeout>()("ExternalTimeout", {
  message: Schema.String,
}) {}

/** The external server could not be reached (DNS, refused, reset, TLS). */
export class ExternalUnreachable extends Schema.TaggedError<ExternalUnreachable>()("ExternalUnreachable", {
  message: Schema.String,
}) {}

/** The body was larger than `CALLER_MAX_BODY_BYTES`; reading stopped there. */
export class BodyTooLarge extends Schema.TaggedError<BodyTooLarge>()("BodyTooLarge", { message: Schema.String }) {}

/** `CALLER_MAX_CONCURRENT` fetches were running and `CALLER_MAX_QUEUED` waiting: refused at once. */
export class CallerBusy extends Schema.TaggedError<CallerBusy>()("CallerBusy", { message: Schema.String }) {}

export const CallError = Schema.Union([
  InvalidUrl,
  UrlNotAllowed,
  ExternalTimeout,
  ExternalUnreachable,
  BodyTooLarge,
  CallerBusy,
])
export type CallError = typeof CallError.Type

/**
 * The contract's code for each failure: what caller answers over Connect, and what greeter
 * passes through unchanged when caller fails its call.
 */
export const codeOf: Readonly<Record<CallError["_tag"], RpcCode>> = {
  InvalidUrl: "invalid_argument",
  UrlNotAllowed: "permission_denied",
  ExternalTimeout: "deadline_exceeded",
  ExternalUnreachable: "unavailable",
  BodyTooLarge: "resource_exhausted",
  CallerBusy: "resource_exhausted",
}

export const CallResult = Schema.Struct({
  /** The HTTP status the URL answered with: any status is a successful call. */
  statusCode: Schema.Int,
  /** Body bytes read. */
  bodyLength: Schema.Int,
})
export type CallResult = typeof CallResult.Type

/** How the RPC group is named in spans and metrics (`caller.Caller.CallExternal`). */
export const RPC_SERVICE = "caller.Caller"

/** Where caller serves the group (HTTP, JSON: one answer per HTTP request). */
export const RPC_PATH = "/rpc"

/**
 * Where caller serves the same group framed (HTTP, newline-delimited JSON): each call's answer
 * is written as it completes, which calls sharing an HTTP request need (greeter's batches).
 */
export const RPC_FRAMED_PATH = "/rpc/ndjson"

export class CallerRpcs extends RpcGroup.make(
  Rpc.make("CallExternal", {
    payload: { url: Schema.String },
    success: CallResult,
    error: CallError,
  }),
) {}
