import { Schema } from "effect"
import { HttpApiMiddleware } from "effect/http-api"

/**
 * What the existing REST services (Express) answer on every error: `{"error": "<text>"}`.
 * The tag stays off the wire, so declared errors keep the contract's exact bodies.
 */
export class InvalidRequest extends Schema.Error<InvalidRequest>("platform/InvalidRequest")(
  Schema.Struct({ _tag: Schema.tagDefaultOmit("InvalidRequest"), error: Schema.String }),
  { httpApiStatus: 400 },
) {}

/**
 * An error answer whose body is always the same: `{"error": "<text>"}` with `status`. The tag
 * names it in code (`Effect.catchTag`) and stays off the wire.
 *
 * `class RateLimited extends ErrorResponse<RateLimited>()("RateLimited", 429, "rate limited") {}`
 */
export const ErrorResponse =
  <Self>() =>
  <const Tag extends string, const Text extends string>(tag: Tag, status: number, text: Text) =>
    Schema.Error<Self>(tag)(Schema.Struct({ _tag: Schema.tagDefaultOmit(tag), error: Schema.tag(text) }), {
      httpApiStatus: status,
    })

/**
 * Declared on a REST API: a malformed request (a body that is not JSON, a field of the wrong
 * type, a body over the limit) is answered `400 {"error": "<what is wrong>"}`, never a 500. The
 * kernel's `RestApi.requestValidation` implements it on the server.
 */
export class RequestValidation extends HttpApiMiddleware.Service<RequestValidation>()("platform/RequestValidation", {
  error: InvalidRequest,
}) {}

/** How the contract's REST services word a malformed request (`RestApi.requestValidation` on the server). */
export const validation = {
  invalid: (error: string) => new InvalidRequest({ error }),
  unsupported: (error: string) => ({ error }),
}
