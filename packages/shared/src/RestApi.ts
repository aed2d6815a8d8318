import { ByteSize, type Context, Effect, Layer, SchemaIssue, type Types } from "effect"
import { HttpIncomingMessage, HttpServerError, HttpServerResponse } from "effect/http"
import { HttpApiError, type HttpApiMiddleware } from "effect/http-api"
import { maxRequestBytes } from "./ServiceConfig.ts"

/** REST services read JSON bodies of at most this size by default; larger ones are refused with a 400. */
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

const bodyReadFailure = (defect: unknown, limit: number): string | undefined => {
  if (!(defect instanceof HttpServerError.HttpServerError)) return undefined
  const reason = defect.reason
  if (reason._tag !== "RequestParseError") return undefined
  return reason.reason === "BodyTooLarge"
    ? `request body is larger than ${limit} bytes`
    : "request body could not be read"
}

/**
 * Implements a REST API's request-validation middleware (declared in its contract): every way a
 * client can send a malformed request (a body that is not JSON, a field of the wrong type, a
 * body over the limit) fails with `invalid(<what is wrong>)`, the contract's 400, and an
 * unsupported content type is answered 415 with `unsupported(<sentence>)` as its JSON body.
 * Never a 500 and never a stack trace for a client's mistake.
 */
export const requestValidation = <Self, E>(
  middleware: Context.Key<Self, HttpApiMiddleware.HttpApiMiddleware<never, never, never>>,
  options: {
    readonly invalid: (message: string) => E
    readonly unsupported: (message: string) => unknown
    readonly maxBodyBytes?: number | undefined
  },
): Layer.Layer<Self> => {
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES
  const implementation = (httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>) =>
    httpEffect.pipe(
      Effect.catch(
        (error): Effect.Effect<never, E | Types.unhandled> =>
          HttpApiError.HttpApiSchemaError.is(error) && isRequestSide(error)
            ? Effect.fail(options.invalid(describeSchemaError(error)))
            : Effect.fail(error),
      ),
      Effect.catchDefect((defect) => {
        const problem = bodyReadFailure(defect, limit)
        return problem === undefined ? Effect.die(defect) : Effect.fail(options.invalid(problem))
      }),
      Effect.map((response: HttpServerResponse.HttpServerResponse) =>
        response.status === 415
          ? HttpServerResponse.jsonUnsafe(
              options.unsupported("unsupported content-type: send the body as application/json"),
              {
                status: 415,
              },
            )
          : response,
      ),
    )
  return Layer.succeed(middleware, implementation as never)
}

/** The body limit, as a layer for the server that serves a REST API. */
export const bodyLimit = (bytes: number = MAX_BODY_BYTES) =>
  Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(bytes))

/** The body limit of an RPC server (Effect RPC over HTTP): `MAX_REQUEST_BYTES`, 4 MiB by default. */
export const requestLimit = Layer.effect(
  HttpIncomingMessage.MaxBodySize,
  Effect.map(maxRequestBytes, (bytes) => ByteSize.bytes(bytes)),
)
