import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { ErrorResponse, InvalidRequest, RequestValidation } from "./ErrorBody.ts"

/**
 * The REST contract of auth, declared once: the service serves it, the edge's forward-auth and
 * the web console call it. Paths, status codes and error texts are the contract's; refresh,
 * logout, OpenID discovery and `X-User-Role` are additions that leave the original calls as
 * they were.
 */

/** A string field a client may leave out or send as `null`. */
const OptionalText = Schema.optionalKey(Schema.NullOr(Schema.String).annotate({ message: "must be a string" }))

/** Missing and `null` are both "not given", as the original's `if (!email || !password)`. */
export const Credentials = Schema.Struct({
  email: OptionalText,
  password: OptionalText,
})
export type Credentials = typeof Credentials.Type

export const User = Schema.Struct({
  id: Schema.String,
  email: Schema.String,
  role: Schema.String,
})
export type User = typeof User.Type

export const Session = Schema.Struct({
  /** The RS256 access token (the contract's only field). */
  token: Schema.String,
  /**
   * Single use: exchanged at /auth/refresh for a new pair. Absent when the client asked for it
   * as a cookie (`X-Refresh-Cookie: 1`): then only the browser holds it, out of the page's reach.
   */
  refreshToken: Schema.optionalKey(Schema.String),
  /** Seconds until `token` expires. */
  expiresIn: Schema.Int,
})
export type Session = typeof Session.Type

export const RefreshRequest = Schema.Struct({
  refreshToken: OptionalText,
})

/**
 * A browser client's refresh token travels in this cookie instead of JSON bodies: `HttpOnly` (no
 * script, an injected one included, can read it), `SameSite=Strict`, `Path=/auth`, `Secure` over
 * HTTPS. Set and read only when the request carries `X-Refresh-Cookie: 1`, a header no
 * cross-origin page can send without a CORS preflight the edge refuses.
 */
export const REFRESH_COOKIE = "platform_refresh"
export const RefreshCookieMode = {
  "x-refresh-cookie": Schema.optionalKey(Schema.Literal("1")),
  "x-forwarded-proto": Schema.optionalKey(Schema.String),
}

export const Verified = Schema.Struct({ ok: Schema.Literal(true), userId: Schema.String })

export const PublicJwk = Schema.Struct({
  kty: Schema.Literal("RSA"),
  use: Schema.Literal("sig"),
  alg: Schema.Literal("RS256"),
  kid: Schema.String,
  n: Schema.String,
  e: Schema.String,
})
export type PublicJwk = typeof PublicJwk.Type

export const Jwks = Schema.Struct({ keys: Schema.Array(PublicJwk) })
export type Jwks = typeof Jwks.Type

export const OpenIdConfiguration = Schema.Struct({
  issuer: Schema.String,
  jwks_uri: Schema.String,
  token_endpoint: Schema.String,
  id_token_signing_alg_values_supported: Schema.Array(Schema.String),
  token_endpoint_auth_methods_supported: Schema.Array(Schema.String),
  grant_types_supported: Schema.Array(Schema.String),
  response_types_supported: Schema.Array(Schema.String),
  subject_types_supported: Schema.Array(Schema.String),
  claims_supported: Schema.Array(Schema.String),
})
export type OpenIdConfiguration = typeof OpenIdConfiguration.Type

export class EmailTaken extends ErrorResponse<EmailTaken>()("EmailTaken", 409, "email already exists") {}
export class InvalidCredentials extends ErrorResponse<InvalidCredentials>()(
  "InvalidCredentials",
  401,
  "invalid email or password",
) {}
export class MissingBearer extends ErrorResponse<MissingBearer>()("MissingBearer", 401, "missing bearer token") {}
export class InvalidToken extends ErrorResponse<InvalidToken>()("InvalidToken", 401, "invalid token") {}
export class InvalidRefreshToken extends ErrorResponse<InvalidRefreshToken>()(
  "InvalidRefreshToken",
  401,
  "invalid refresh token",
) {}
export class DatabaseNotConfigured extends ErrorResponse<DatabaseNotConfigured>()(
  "DatabaseNotConfigured",
  503,
  "database not configured",
) {}

/** The database is configured but does not answer: retry later. */
export class DatabaseUnavailable extends ErrorResponse<DatabaseUnavailable>()(
  "DatabaseUnavailable",
  503,
  "database unavailable",
) {}

/** Too many failed logins for one email: `429 {"error":"too many attempts"}` with `Retry-After`. */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()("TooManyAttempts", {
  retryAfterSeconds: Schema.Int,
}) {}

const TooManyAttemptsResponse = TooManyAttempts.pipe(
  HttpApiSchema.encodeToWithHeaders(
    {
      body: Schema.Struct({ error: Schema.Literal("too many attempts") }).pipe(HttpApiSchema.status(429)),
      headers: { "retry-after": Schema.NumberFromString },
    },
    {
      decode: ({ headers }) => new TooManyAttempts({ retryAfterSeconds: headers["retry-after"] }),
      encode: (error) => ({
        body: { error: "too many attempts" as const },
        headers: { "retry-after": error.retryAfterSeconds },
      }),
    },
  ),
)

export const register = HttpApiEndpoint.post("register", "/auth/register", {
  payload: Credentials,
  success: User.pipe(HttpApiSchema.status(201)),
  error: [InvalidRequest, EmailTaken, DatabaseNotConfigured, DatabaseUnavailable],
})

export const login = HttpApiEndpoint.post("login", "/auth/login", {
  payload: Credentials,
  headers: RefreshCookieMode,
  success: Session,
  error: [InvalidRequest, InvalidCredentials, TooManyAttemptsResponse, DatabaseNotConfigured, DatabaseUnavailable],
})

export const refresh = HttpApiEndpoint.post("refresh", "/auth/refresh", {
  payload: RefreshRequest,
  headers: RefreshCookieMode,
  success: Session,
  error: [InvalidRequest, InvalidRefreshToken, DatabaseNotConfigured, DatabaseUnavailable],
})

export const logout = HttpApiEndpoint.post("logout", "/auth/logout", {
  payload: RefreshRequest,
  headers: RefreshCookieMode,
  success: HttpApiSchema.NoContent,
  error: [InvalidRequest, DatabaseNotConfigured, DatabaseUnavailable],
})

/** The edge's forward-auth: the answer's headers are copied onto the upstream request. */
export const verify = HttpApiEndpoint.get("verify", "/verify", {
  headers: { authorization: Schema.optionalKey(Schema.String) },
  success: HttpApiSchema.WithHeaders(Verified, { "x-user-id": Schema.String, "x-user-role": Schema.String }),
  // 503 while auth has not loaded its keys (started without its database).
  error: [MissingBearer, InvalidToken, DatabaseUnavailable],
})

export const jwks = HttpApiEndpoint.get("jwks", "/.well-known/jwks.json", {
  success: Jwks,
  error: DatabaseUnavailable,
})

export const openIdConfiguration = HttpApiEndpoint.get("openIdConfiguration", "/.well-known/openid-configuration", {
  headers: {
    host: Schema.optionalKey(Schema.String),
    "x-forwarded-proto": Schema.optionalKey(Schema.String),
    "x-forwarded-host": Schema.optionalKey(Schema.String),
  },
  success: OpenIdConfiguration,
})

export class AccountsGroup extends HttpApiGroup.make("accounts").add(register, login, refresh, logout) {}
export class TokensGroup extends HttpApiGroup.make("tokens").add(verify, jwks, openIdConfiguration) {}

export class AuthApi extends HttpApi.make("auth").add(AccountsGroup, TokensGroup).middleware(RequestValidation) {}
