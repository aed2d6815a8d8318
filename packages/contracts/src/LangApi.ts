import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { ErrorResponse, RequestValidation } from "./ErrorBody.ts"
import { Name } from "./Name.ts"

/**
 * The REST contract of the "custom language" service, declared once: lang serves it, the
 * gateway derives its typed client from it, the console's explorer lists it. Bodies and status
 * codes are the contract's.
 */

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

/** The contract's table: the names that make lang answer with an error, and the error. */
export const rejections: Readonly<Record<string, () => Rejection>> = {
  unauthorized: () => new Unauthorized(),
  forbidden: () => new Forbidden(),
  notfound: () => new NotFound(),
  conflict: () => new Conflict(),
  ratelimit: () => new RateLimited(),
  unavailable: () => new Unavailable(),
}

/** The HTTP status of each configured answer (what a client of lang sees). */
export const rejectionStatus: Readonly<Record<Rejection["_tag"], number>> = {
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  RateLimited: 429,
  Unavailable: 503,
}

export const greeting = (name: string) => `Hello ${name} from custom-lang-service!`

export const invoke = HttpApiEndpoint.post("invoke", "/invoke", {
  // `null`, and so an empty body, is accepted as `{}`, as the original Express service does.
  payload: [InvokeRequest, Schema.Null],
  success: InvokeResponse,
  error: [Unauthorized, Forbidden, NotFound, Conflict, RateLimited, Unavailable],
})

export class LangGroup extends HttpApiGroup.make("lang").add(invoke) {}

export class LangApi extends HttpApi.make("lang").add(LangGroup).middleware(RequestValidation) {}
