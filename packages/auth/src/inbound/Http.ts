import { AuthApi, MissingBearer } from "@platform/contracts/AuthApi"
import * as ClientAddress from "@platform/shared/ClientAddress"
import { Effect, Option } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiSchema } from "effect/http-api"
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
    return handlers
      .handle("register", ({ payload }) => accounts.register(payload))
      .handle("login", ({ payload }) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          accounts.login(payload, ClientAddress.of(request, proxies)),
        ),
      )
      .handle("refresh", ({ payload }) => accounts.refresh(payload.refreshToken))
      .handle("logout", ({ payload }) => accounts.logout(payload.refreshToken))
  }),
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
