import { AuthApi, MissingBearer, REFRESH_COOKIE, type Session } from "@platform/contracts/AuthApi"
import * as ClientAddress from "@platform/shared/ClientAddress"
import { Effect, Option } from "effect"
import { HttpEffect, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiSchema, HttpApiSecurity } from "effect/http-api"
import { Accounts } from "../Accounts.ts"
import { AuthConfig } from "../Config.ts"
import { SigningKeys } from "../SigningKeys.ts"
import { Tokens } from "../Tokens.ts"

/** `Bearer <token>`, the scheme in any case, as RFC 6750 allows. */
export const bearerToken = (authorization: string | undefined): Option.Option<string> => {
  const match = authorization?.match(/^\s*bearer\s+(\S+)\s*$/i)
  return Option.fromUndefinedOr(match?.[1])
}

export const AccountsHttp = HttpApiBuilder.group(AuthApi, "accounts", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* Accounts
    const proxies = ClientAddress.trustedProxies((yield* AuthConfig).trustedProxies)
    const { refreshTtl } = yield* AuthConfig
    /** A browser's session: the refresh token into its HttpOnly cookie, out of the JSON body. */
    const deliver = (session: Session, headers: CookieHeaders) =>
      Effect.gen(function* () {
        if (headers["x-refresh-cookie"] !== "1" || session.refreshToken === undefined) return session
        yield* HttpApiBuilder.securitySetCookie(RefreshCookie, session.refreshToken, {
          ...cookieScope,
          secure: isHttps(headers),
          maxAge: refreshTtl,
        })
        const { refreshToken: _, ...body } = session
        return body
      })
    return handlers
      .handle("register", ({ payload }) => accounts.register(payload))
      .handle("login", ({ payload, headers }) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          accounts.login(payload, ClientAddress.of(request, proxies)),
        ).pipe(Effect.flatMap((session) => deliver(session, headers))),
      )
      .handle("refresh", ({ payload, headers }) =>
        Effect.flatMap(presented(payload.refreshToken, headers), accounts.refresh).pipe(
          Effect.flatMap((session) => deliver(session, headers)),
        ),
      )
      .handle("logout", ({ payload, headers }) =>
        Effect.flatMap(presented(payload.refreshToken, headers), accounts.logout).pipe(
          Effect.tap(() =>
            headers["x-refresh-cookie"] === "1"
              ? HttpEffect.appendPreResponseHandler((_, response) =>
                  Effect.orDie(HttpServerResponse.expireCookie(response, REFRESH_COOKIE, cookieScope)),
                )
              : Effect.void,
          ),
        ),
      )
  }),
)

type CookieHeaders = { readonly "x-refresh-cookie"?: "1"; readonly "x-forwarded-proto"?: string }

const RefreshCookie = HttpApiSecurity.apiKey({ in: "cookie", key: REFRESH_COOKIE })
const cookieScope = { httpOnly: true, sameSite: "strict", path: "/auth" } as const

/** `Secure` when the browser reached us over HTTPS (through the edge or Traefik). */
const isHttps = (headers: CookieHeaders) => headers["x-forwarded-proto"]?.split(",")[0]?.trim() === "https"

/** The body's refresh token, or, for a browser that asked for cookies, the cookie's. */
const presented = (fromBody: string | null | undefined, headers: CookieHeaders) =>
  Effect.map(
    HttpServerRequest.HttpServerRequest,
    (request) => fromBody ?? (headers["x-refresh-cookie"] === "1" ? request.cookies[REFRESH_COOKIE] : undefined),
  )

export const TokensHttp = HttpApiBuilder.group(AuthApi, "tokens", (handlers) =>
  Effect.gen(function* () {
    const config = yield* AuthConfig
    const tokens = yield* Tokens
    const keys = yield* SigningKeys
    return handlers
      .handle("verify", ({ headers }) =>
        Effect.gen(function* () {
          const token = bearerToken(headers.authorization)
          if (Option.isNone(token)) return yield* new MissingBearer()
          const claims = yield* tokens.verify(token.value)
          return HttpApiSchema.withHeaders({
            body: { ok: true as const, userId: claims.sub },
            headers: { "x-user-id": claims.sub, "x-user-role": claims.role },
          })
        }),
      )
      .handle("jwks", () => keys.jwks)
      .handle("openIdConfiguration", ({ headers }) =>
        Effect.sync(() => {
          const base = Option.getOrElse(
            config.publicUrl,
            () =>
              `${headers["x-forwarded-proto"] ?? "http"}://${headers["x-forwarded-host"] ?? headers.host ?? "localhost"}`,
          )
          return {
            issuer: config.issuer,
            jwks_uri: `${base}/.well-known/jwks.json`,
            token_endpoint: `${base}/auth/login`,
            id_token_signing_alg_values_supported: ["RS256"],
            token_endpoint_auth_methods_supported: ["none"],
            grant_types_supported: ["password", "refresh_token"],
            response_types_supported: ["token"],
            subject_types_supported: ["public"],
            claims_supported: ["sub", "role", "iss", "iat", "exp"],
          }
        }),
      )
  }),
)

/**
 * RFC 6750 §3: `/verify`'s 401 names the scheme (`WWW-Authenticate: Bearer`). The edge passes it to
 * the client with the refusal, which is how a client tells "the edge refused my token" (refresh
 * the session) from a service's own `unauthenticated` (lang's 401 through the gateway: resending
 * would run the call twice).
 */
export const BearerChallenge = HttpRouter.middleware((httpApp) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.map(httpApp, (response) =>
      response.status === 401 && request.url.split("?")[0] === "/verify"
        ? HttpServerResponse.setHeader(response, "www-authenticate", 'Bearer realm="platform", error="invalid_token"')
        : response,
    ),
  ),
).layer
