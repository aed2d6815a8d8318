/**
 * auth's failures are the contract's error answers (`{"error":"invalid email or password"}`
 * with 401...): they cross the wire as data, so they are declared once, in the contract, and
 * the domain fails with them.
 */

export {
  DatabaseNotConfigured,
  DatabaseUnavailable,
  EmailTaken,
  InvalidCredentials,
  InvalidRefreshToken,
  InvalidToken,
  MissingBearer,
  TooManyAttempts,
} from "@platform/contracts/AuthApi"
export { InvalidRequest } from "@platform/contracts/ErrorBody"
