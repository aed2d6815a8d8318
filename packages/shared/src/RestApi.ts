import { ByteSize, Effect, Layer, Schema, SchemaIssue, type Types } from "effect"
import { HttpIncomingMessage, HttpServerError, HttpServerResponse } from "effect/http"
import { HttpApiError, HttpApiMiddleware } from "effect/http-api"

/**
 * What the existing REST services (Express) answer on every error: `{"error": "<text>"}`.
 * The tag stays off the wire, so declared errors keep the contract's exact bodies.
 */
export class InvalidRequest extends Schema.Error<InvalidRequest>("platform/InvalidRequest")(
  Schema.Struct({ _tag: Schema.tagDefaultOmit("InvalidRequest"), error: Schema.String }),
  { httpApiStatus: 400 },
) {}

/** REST services read JSON bodies of at most this size; larger ones are refused with a 400. */
export const MAX_BODY_BYTES = 64 * 1024

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const slotNames: Record<string, string> = {
  Params: "path parameter",
  Headers: "header",
  Query: "query parameter",
  Payload: "request body",
}

/**
 * `name: must be a string`; for a body of the wrong shape altogether, a sentence rather than
 * the schema's union of accepted types.
 */
export const describeSchemaError = (error: HttpApiError.HttpApiSchemaError): string => {
  const slot = slotNames[error.kind] ?? error.kind
  const issues = formatIssues(error.cause.issue).issues
  if (issues.length === 0) return `invalid ${slot}`
  return issues
    .map(({ message, path }) => {
      const at = (path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".")
      if (at !== "") return `${at}: ${message}`
      if (message === "Expected a valid JSON body") return "request body is not valid JSON"
      if (error.kind === "Payload" && message.startsWith("Expected ")) return "request body must be a JSON object"
      return `${slot}: ${message}`
    })
    .join("; ")
}

const isRequestSide = (error: HttpApiError.HttpApiSchemaError) => error.kind in slotNames

const bodyReadFailure = (defect: unknown): string | undefined => {
  if (!(defect instanceof HttpServerError.HttpServerError)) return undefined
  const reason = defect.reason
  if (reason._tag !== "RequestParseError") return undefined
  return reason.reason === "BodyTooLarge"
    ? `request body is larger than ${MAX_BODY_BYTES} bytes`
    : "request body could not be read"
}

/**
 * Turns every way a client can send a malformed request into a `400 {"error": "..."}` that
 * says what is wrong (a body that is not JSON, a field of the wrong type, a body over the
 * limit), and an unsupported content type into a `415` with the same shape. Never a 500 and
 * never a stack trace for a client's mistake. Declare it on a REST API with `.middleware(...)`.
 */
export class RequestValidation extends HttpApiMiddleware.Service<RequestValidation>()("platform/RequestValidation", {
  error: InvalidRequest,
}) {
  static readonly layer = Layer.succeed(RequestValidation, (httpEffect) =>
    httpEffect.pipe(
      Effect.catch(
        (error): Effect.Effect<never, InvalidRequest | Types.unhandled> =>
          HttpApiError.HttpApiSchemaError.is(error) && isRequestSide(error)
            ? Effect.fail(new InvalidRequest({ error: describeSchemaError(error) }))
            : Effect.fail(error),
      ),
      Effect.catchDefect((defect) => {
        const problem = bodyReadFailure(defect)
        return problem === undefined ? Effect.die(defect) : Effect.fail(new InvalidRequest({ error: problem }))
      }),
      Effect.map((response: HttpServerResponse.HttpServerResponse) =>
        response.status === 415
          ? HttpServerResponse.jsonUnsafe(
              { error: "unsupported content-type: send the body as application/json" },
              { status: 415 },
            )
          : response,
      ),
    ),
  )
}

/** The body limit, as a layer for the server that serves a REST API. */
export const bodyLimit = Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(MAX_BODY_BYTES))

/**
 * An error answer whose body is always the same: `{"error": "<text>"}` with `status`. The tag
 * names it in code (`Effect.catchTag`) and stays off the wire.
 *
 * `class RateLimited extends RestApi.ErrorResponse<RateLimited>()("RateLimited", 429, "rate limited") {}`
 */
export const ErrorResponse =
  <Self>() =>
  <const Tag extends string, const Text extends string>(tag: Tag, status: number, text: Text) =>
    Schema.Error<Self>(tag)(Schema.Struct({ _tag: Schema.tagDefaultOmit(tag), error: Schema.tag(text) }), {
      httpApiStatus: status,
    })
