import { Clock, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose"
import { AuthConfig } from "./Config.ts"
import { type DatabaseUnavailable, InvalidToken } from "./errors.ts"
import { Revocations } from "./Revocations.ts"
import { SigningKeys } from "./SigningKeys.ts"

/** What a valid access token says. */
export interface Claims {
  readonly sub: string
  readonly role: string
  /** Seconds since the epoch. */
  readonly exp: number
  /** The session (refresh-token family) the token belongs to; absent in the original's tokens. */
  readonly sid?: string | undefined
}

/**
 * Claims become the `X-User-Id` and `X-User-Role` headers of `/verify`: only values a header can
 * carry, whoever signed the token (a CR LF there once hung the connection).
 */
const HeaderSafe = Schema.String.check(
  Schema.makeFilter((value: string) => /^[\x21-\x7e]{1,256}$/.test(value) || "must be printable ASCII without spaces"),
)
const Payload = Schema.Struct({
  sub: HeaderSafe,
  role: Schema.optional(HeaderSafe),
  exp: Schema.Number,
  sid: Schema.optional(Schema.String),
})
const decodePayload = Schema.decodeUnknownOption(Payload)

/**
 * RS256 access tokens: header `kid`, claims `sub`, `role`, `iss`, `iat`, `exp`, and `sid` (the
 * session, so that a logout ends its access tokens too: `Revocations`). Verification
 * pins RS256, demands the issuer, checks `exp` and `nbf`, and takes keys only from the service's
 * own published set, so `alg: none`, HS256 signed with the public key, unknown or retired kids,
 * expired and foreign tokens are all `InvalidToken`.
 */
export class Tokens extends Context.Service<
  Tokens,
  {
    /** Fails with `DatabaseUnavailable` while the stored keys have not been loaded. */
    readonly issue: (
      user: { readonly id: string; readonly role: string },
      session: string,
    ) => Effect.Effect<
      {
        readonly token: string
        readonly expiresIn: number
      },
      DatabaseUnavailable
    >
    readonly verify: (token: string) => Effect.Effect<Claims, InvalidToken | DatabaseUnavailable>
  }
>()("auth/Tokens") {
  static readonly layer = Layer.effect(
    Tokens,
    Effect.gen(function* () {
      const config = yield* AuthConfig
      const keys = yield* SigningKeys
      const revocations = yield* Revocations
      const ttlSeconds = Duration.toSeconds(config.tokenTtl)

      const issue = Effect.fn("Tokens.issue")(function* (
        user: { readonly id: string; readonly role: string },
        session: string,
      ) {
        const key = yield* keys.current
        const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const token = yield* Effect.promise(() =>
          new SignJWT({ role: user.role, sid: session })
            .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
            .setSubject(user.id)
            .setIssuer(config.issuer)
            .setIssuedAt(now)
            .setExpirationTime(now + ttlSeconds)
            .sign(key.privateKey),
        )
        return { token, expiresIn: ttlSeconds }
      })

      const verified = new VerifiedCache(VERIFIED_CACHE_SIZE)

      const verifySignature = Effect.fnUntraced(function* (token: string) {
        const header = yield* Effect.try({ try: () => decodeProtectedHeader(token), catch: () => new InvalidToken() })
        if (header.alg !== "RS256" || typeof header.kid !== "string") return yield* new InvalidToken()
        const key = yield* keys.find(header.kid)
        if (Option.isNone(key)) return yield* new InvalidToken()
        const now = yield* Clock.currentTimeMillis
        const { payload } = yield* Effect.tryPromise({
          try: () =>
            jwtVerify(token, key.value.publicKey, {
              algorithms: ["RS256"],
              issuer: config.issuer,
              currentDate: new Date(now),
              requiredClaims: ["sub", "exp"],
            }),
          catch: () => new InvalidToken(),
        })
        const claims = decodePayload(payload)
        if (Option.isNone(claims)) return yield* new InvalidToken()
        return {
          sub: claims.value.sub,
          role: claims.value.role ?? "user",
          exp: claims.value.exp,
          sid: claims.value.sid,
        }
      })

      const verify = Effect.fn("Tokens.verify")(function* (token: string) {
        const now = (yield* Clock.currentTimeMillis) / 1000
        let claims = verified.get(token, now)
        if (claims === undefined) {
          claims = yield* verifySignature(token)
          verified.set(token, claims)
        }
        // Checked on every use, cached or not: a logout ends the session's tokens from then on.
        if (claims.sid !== undefined && (yield* revocations.isRevoked(claims.sid))) return yield* new InvalidToken()
        return claims
      })

      return Tokens.of({ issue, verify })
    }),
  )
}

/**
 * The same token is presented on every request of a session: its signature is checked once,
 * then its claims are kept (by the token's exact text) until it expires. Only tokens that
 * passed every check are kept, and `exp` is checked on every hit.
 */
const VERIFIED_CACHE_SIZE = 10_000

class VerifiedCache {
  private readonly entries = new Map<string, Claims>()
  private readonly capacity: number
  constructor(capacity: number) {
    this.capacity = capacity
  }

  get(token: string, nowSeconds: number): Claims | undefined {
    const claims = this.entries.get(token)
    if (claims === undefined) return undefined
    if (claims.exp > nowSeconds) return claims
    this.entries.delete(token)
    return undefined
  }

  set(token: string, claims: Claims) {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
    this.entries.set(token, claims)
  }
}
