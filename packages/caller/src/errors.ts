/**
 * caller's failures cross the wire as data in its Effect RPC contract (greeter decodes them),
 * so they are declared once, in the contract, and the domain fails with them. Their codes
 * (`codeOf`) are the contract's too.
 */
export {
  BodyTooLarge,
  type CallError,
  CallerBusy,
  ExternalTimeout,
  ExternalUnreachable,
  InvalidUrl,
  UrlNotAllowed,
} from "@platform/contracts/CallerRpcs"
