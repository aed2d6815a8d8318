/**
 * lang's failures are the contract's configured answers (`{"error":"unauthorized"}` with 401...):
 * they cross the wire as data, so they are declared once, in the contract, and the domain
 * fails with them.
 */
export {
  Conflict,
  Forbidden,
  NotFound,
  RateLimited,
  type Rejection,
  Unauthorized,
  Unavailable,
} from "@platform/contracts/LangApi"
