import { Code, ConnectError } from "@connectrpc/connect"

/** Connect's names for its codes, as the wire and the contract spell them. */
const codeNames: Record<number, string> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
}

/**
 * Any failure as one sentence a person can act on: a Connect error's code and message, a REST
 * error's `{"error"}` text, or that the platform did not answer. Never a blank screen.
 */
export const describe = (error: unknown): string => {
  const unreachable = unreachableService(error)
  if (unreachable !== undefined) return `${unreachable} is not answering: the edge got no answer from it (HTTP 502)`
  if (error instanceof ConnectError) {
    const code = codeNames[error.code] ?? String(error.code)
    return error.rawMessage === "" ? code : `${code}: ${error.rawMessage}`
  }
  if (typeof error === "object" && error !== null) {
    const tagged = error as { readonly _tag?: unknown; readonly error?: unknown; readonly retryAfterSeconds?: unknown }
    if (tagged._tag === "TooManyAttempts" && typeof tagged.retryAfterSeconds === "number") {
      return `too many attempts: try again in ${tagged.retryAfterSeconds} s`
    }
    if (typeof tagged.error === "string") return tagged.error
    if (tagged._tag === "HttpClientError") return "the platform did not answer: is it running?"
  }
  if (error instanceof Error && error.message !== "") return error.message
  return "something went wrong"
}

/** The edge names the service that gave no answer on its 502 (`x-edge-unreachable`). */
const UNREACHABLE = "x-edge-unreachable"

const unreachableService = (error: unknown): string | undefined => {
  if (error instanceof ConnectError) return error.metadata.get(UNREACHABLE) ?? undefined
  if (typeof error !== "object" || error === null) return undefined
  const response = (error as { readonly reason?: { readonly response?: { readonly headers?: unknown } } }).reason
    ?.response
  const headers = response?.headers as Record<string, string | undefined> | undefined
  return headers?.[UNREACHABLE]
}
