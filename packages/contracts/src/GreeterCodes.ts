import type { RpcCode } from "./RpcCode.ts"

/**
 * The codes Greet answers with when it cannot greet, as the contract says: caller's own code
 * passes through unchanged; these are the rest.
 */
export const greetCodes = {
  /** The 2 s deadline on the call to caller passed. */
  callerTimedOut: "deadline_exceeded",
  /** Any other failure reaching caller. */
  callerUnreachable: "unavailable",
  /** Beyond: a name that cannot be recorded. */
  invalidName: "invalid_argument",
} as const satisfies Record<string, RpcCode>
