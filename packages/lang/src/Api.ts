import { ErrorResponse, RequestValidation } from "@platform/shared/RestApi"
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"

/**
 * The REST contract of the "custom language" service, declared once: lang serves it, and the
 * gateway derives its typed client from it. Bodies and status codes are the contract's.
 */

/** The longest name the `executions.name` column (varchar(255)) holds, in characters. */
export const MAX_NAME_LENGTH = 255

/**
 * A name lang can echo and store: PostgreSQL text cannot hold NUL, a lone UTF-16 surrogate
 * would be stored as U+FFFD (a different name), and varchar(255) counts code points.
 */
export const Name = Schema.String.check(
  Schema.makeFilter((name) => !name.includes("\u0000") || "must not contain NUL characters"),
  Schema.makeFilter((name) => name.isWellFormed() || "must be valid Unicode text"),
  Schema.makeFilter(
    (name) => [...name].length <= MAX_NAME_LENGTH || `must be at most ${MAX_NAME_LENGTH} characters long`,
  ),
)

export const InvokeRequest = Schema.Struct({
  /** Missing, `null` or empty: `World`. */
  name: Schema.optionalKey(Schema.NullOr(Name).annotate({ message: "must be a string" })),
})
export type InvokeRequest = typeof InvokeRequest.Type

export const InvokeResponse = Schema.Struct({ message: Schema.String })
export type InvokeResponse = typeof InvokeResponse.Type

/** The error answers lang is configured to give, keyed by the name that asks for them. */
export class Unauthorized extends ErrorResponse<Unauthorized>()("Unauthorized", 401, "unauthorized") {}
export class Forbidden extends ErrorResponse<Forbidden>()("Forbidden", 403, "forbidden") {}
export class NotFound extends ErrorResponse<NotFound>()("NotFound", 404, "not found") {}
export class Conflict extends ErrorResponse<Conflict>()("Conflict", 409, "conflict") {}
export class RateLimited extends ErrorResponse<RateLimited>()("RateLimited", 429, "rate limited") {}
export class Unavailable extends ErrorResponse<Unavailable>()("Unavailable", 503, "service unavailable") {}

export type Rejection = Unauthorized | Forbidden | NotFound | Conflict | RateLimited | Unavailable

/** The HTTP status of each configured answer (what a client of lang sees). */
export const rejectionStatus: Record<Rejection["_tag"], number> = {
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  RateLimited: 429,
  Unavailable: 503,
}

export const invoke = HttpApiEndpoint.post("invoke", "/invoke", {
  // `null`, and so an empty body, is accepted as `{}`, as the original Express service does.
  payload: [InvokeRequest, Schema.Null],
  success: InvokeResponse,
  error: [Unauthorized, Forbidden, NotFound, Conflict, RateLimited, Unavailable],
})

export class LangGroup extends HttpApiGroup.make("lang").add(invoke) {}

export class LangApi extends HttpApi.make("lang").add(LangGroup).middleware(RequestValidation) {}
