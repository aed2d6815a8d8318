import { Schema } from "effect"

/**
 * The RPC status codes as Connect and gRPC name them on the wire (`invalid_argument`,
 * `unavailable`...): the vocabulary of the contract's error tables. The Connect adapter turns a
 * name into Connect's `Code`; nothing else needs the Connect runtime to speak of codes.
 */
export const RpcCode = Schema.Literals([
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
])
export type RpcCode = typeof RpcCode.Type

/** gRPC's numbering of the same codes (Connect's `Code` enum uses it too). */
export const numberOf: Readonly<Record<RpcCode, number>> = {
  canceled: 1,
  unknown: 2,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  aborted: 10,
  out_of_range: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
}

const byNumber = new Map(Object.entries(numberOf).map(([name, number]) => [number, name as RpcCode]))

/** The name of a code number; `unknown` for a number outside the table. */
export const fromNumber = (code: number): RpcCode => byNumber.get(code) ?? "unknown"
