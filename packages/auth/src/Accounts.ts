import { createHash, randomBytes, randomUUID } from "node:crypto"
import type { Credentials, Session, User } from "@platform/contracts/AuthApi"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import * as Metrics from "@platform/shared/Metrics"
import { Cause, Context, Duration, Effect, Exit, Layer, Metric, Option } from "effect"
import * as ClientShare from "./ClientShare.ts"
import { AuthConfig } from "./Config.ts"
import {
  DatabaseNotConfigured,
  DatabaseUnavailable,
  EmailTaken,
  InvalidCredentials,
  InvalidRefreshToken,
  InvalidRequest,
  TooManyAttempts,
} from "./errors.ts"
import { Passwords } from "./Passwords.ts"
import { LoginFailuresRepo } from "./persistence/LoginFailuresRepo.ts"
import { RefreshTokensRepo } from "./persistence/RefreshTokensRepo.ts"
import { UsersRepo } from "./persistence/UsersRepo.ts"
import { Revocations } from "./Revocations.ts"
import { Tokens } from "./Tokens.ts"

/** bcrypt reads at most 72 bytes; a longer password is refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72
export const MIN_PASSWORD_BYTES = 8
const MAX_EMAIL_LENGTH = 254
// No whitespace or control characters (PostgreSQL text cannot even hold NUL).
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@.\p{Cc}]+(\.[^\s@.\p{Cc}]+)+$/u

const required = () => new InvalidRequest({ error: "email and password are required" })

const given = (value: string | null | undefined): value is string =>
  value !== undefined && value !== null && value !== ""

/** Trimmed and lower-cased, so that one mailbox is one account. */
export const normalizeEmail = (email: string) => email.trim().toLowerCase()

const validEmail = (email: string) => email.length <= MAX_EMAIL_LENGTH && EMAIL.test(email)

const passwordBytes = (password: string) => Buffer.byteLength(password, "utf8")

/** Refresh tokens are random; only their SHA-256 is stored. */
const newRefreshToken = () => randomBytes(32).toString("base64url")
const hashToken = (token: string) => new Uint8Array(createHash("sha256").update(token).digest())

type AccountsError = InvalidRequest | DatabaseNotConfigured | DatabaseUnavailable

export const logins = Metric.counter("auth_logins_total", {
  description: "Login attempts by outcome: success, invalid_credentials, throttled, invalid_request, unavailable",
  incremental: true,
})

const outcomes = ["success", "invalid_credentials", "throttled", "invalid_request", "unavailable"] as const

/** Every outcome's series, at zero, from the start: `increase()` cannot see a first increment. */
const exportLogins = Metrics.atZero(
  logins,
  outcomes.map((outcome) => ({ outcome })),
)

const loginOutcome = (exit: Exit.Exit<unknown, { readonly _tag: string }>): (typeof outcomes)[number] => {
  if (Exit.isSuccess(exit)) return "success"
  switch (Option.getOrUndefined(Cause.findErrorOption(exit.cause))?._tag) {
    case "InvalidCredentials":
      return "invalid_credentials"
    case "TooManyAttempts":
      return "throttled"
    case "InvalidRequest":
      return "invalid_request"
    default:
      return "unavailable"
  }
}

/** Counts a login by its outcome, the signal of a credential-stuffing attack or a broken client. */
const countLogin = <A, E extends { readonly _tag: string }, R>(login: Effect.Effect<A, E, R>) =>
  Effect.onExit(login, (exit) => Metric.update(Metric.withAttributes(logins, { outcome: loginOutcome(exit) }), 1))

/**
 * Accounts and sessions: registration, login with brute-force throttling, refresh-token
 * rotation with reuse detection, logout. Access tokens come from `Tokens`.
 *
 * Throttling follows OWASP's authentication cheat sheet: failures are counted per (email,
 * client) and per client, so guesses from elsewhere never lock the owner out; an email under
 * attack from many clients is slowed down progressively (never refused), and a client that has
 * not been failing logs in with the right password.
 */
export class Accounts extends Context.Service<
  Accounts,
  {
    readonly register: (credentials: Credentials) => Effect.Effect<User, AccountsError | EmailTaken>
    /** `client`: the address the attempt came from (what the throttle counts by). */
    readonly login: (
      credentials: Credentials,
      client: string,
    ) => Effect.Effect<Session, AccountsError | InvalidCredentials | TooManyAttempts>
    readonly refresh: (
      refreshToken: string | null | undefined,
    ) => Effect.Effect<Session, AccountsError | InvalidRefreshToken>
    readonly logout: (refreshToken: string | null | undefined) => Effect.Effect<void, AccountsError>
  }
>()("auth/Accounts") {
  static readonly layer = Layer.effect(
    Accounts,
    Effect.gen(function* () {
      const config = yield* AuthConfig
      const users = yield* UsersRepo
      const failures = yield* LoginFailuresRepo
      const refreshTokens = yield* RefreshTokensRepo
      const passwords = yield* Passwords
      const tokens = yield* Tokens
      const revocations = yield* Revocations
      const refreshTtlSeconds = Duration.toSeconds(config.refreshTtl)
      yield* exportLogins

      /** A database failure is the service's problem, not the client's: 503, and a log line. */
      const unavailable = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.catch(effect, (error) =>
          Effect.logError(`database call failed: ${ErrorMessage.describe(error)}`).pipe(
            Effect.andThen(Effect.fail(new DatabaseUnavailable())),
          ),
        )

      const openSession = (user: { readonly id: string; readonly role: string }, familyId: string) =>
        Effect.gen(function* () {
          const refreshToken = newRefreshToken()
          yield* unavailable(
            refreshTokens.insert({
              user_id: user.id,
              family_id: familyId,
              token_hash: hashToken(refreshToken),
              ttlSeconds: refreshTtlSeconds,
            }),
          )
          const { token, expiresIn } = yield* tokens.issue(user, familyId)
          return { token, refreshToken, expiresIn }
        })

      const register = Effect.fn("Accounts.register")(function* (credentials: Credentials) {
        if (!given(credentials.email) || !given(credentials.password)) return yield* required()
        const email = normalizeEmail(credentials.email)
        const password = credentials.password
        if (!validEmail(email)) return yield* new InvalidRequest({ error: "email must be a valid address" })
        const bytes = passwordBytes(password)
        if (bytes < MIN_PASSWORD_BYTES || bytes > MAX_PASSWORD_BYTES) {
          return yield* new InvalidRequest({
            error: `password must be between ${MIN_PASSWORD_BYTES} and ${MAX_PASSWORD_BYTES} bytes long`,
          })
        }
        if (normalizeEmail(password) === email) {
          return yield* new InvalidRequest({ error: "password must not be the email address" })
        }
        // Emails stored by the original service keep their case: compare without it.
        if (Option.isSome(yield* unavailable(users.findByEmail(email)))) return yield* new EmailTaken()
        const password_hash = yield* passwords.hash(password)
        const inserted = yield* unavailable(users.insert({ email, password_hash }))
        if (Option.isNone(inserted)) return yield* new EmailTaken()
        const { id, role } = inserted.value
        yield* Effect.logInfo("user registered").pipe(Effect.annotateLogs("user_id", id))
        return { id, email: inserted.value.email, role }
      })

      const limits = {
        window: config.loginFailureWindow,
        perPair: config.maxLoginFailures,
        perClient: config.maxLoginFailuresPerClient,
      }

      const loginShare = ClientShare.make({
        name: "logins of one client",
        perClient: config.loginsPerClient,
        queuedPerClient: config.loginsQueuedPerClient,
      })

      const attemptLogin = Effect.fnUntraced(function* (credentials: Credentials, client: string) {
        if (!given(credentials.email) || !given(credentials.password)) return yield* required()
        const password = credentials.password
        if (passwordBytes(password) > MAX_PASSWORD_BYTES) {
          return yield* new InvalidRequest({ error: `password must be at most ${MAX_PASSWORD_BYTES} bytes long` })
        }
        const email = normalizeEmail(credentials.email)
        // What the failures table can hold of it (an over-long or NUL email names no account anyway).
        const attempt = { email: email.replaceAll("\u0000", "").slice(0, 255), client: client.slice(0, 64) }
        const verdict = yield* loginShare(
          attempt.client,
          unavailable(
            failures.guard(attempt, limits, (emailFailures) =>
              Effect.gen(function* () {
                // Many clients failing on one email: each attempt on it waits longer, none is refused.
                const beyond = emailFailures - config.maxLoginFailures
                if (beyond > 0) yield* Effect.sleep(Duration.millis(Math.min(beyond * 100, 2000)))
                const found = validEmail(email) ? yield* users.findByEmail(email) : Option.none()
                const matches = yield* passwords.verify(
                  password,
                  Option.getOrUndefined(Option.map(found, (user) => user.password_hash)),
                )
                return matches ? found : Option.none()
              }),
            ),
          ),
        ).pipe(
          // More logins from this client than its share can hold: the same 429 as the throttle.
          Effect.catchTag("BulkheadRejected", () => Effect.fail(new TooManyAttempts({ retryAfterSeconds: 1 }))),
        )
        if (verdict._tag === "Refused") {
          yield* Effect.logWarning("login throttled: too many failed attempts").pipe(
            Effect.annotateLogs({ email, client }),
          )
          return yield* new TooManyAttempts({ retryAfterSeconds: verdict.retryAfterSeconds })
        }
        if (Option.isNone(verdict.result)) return yield* new InvalidCredentials()
        return yield* openSession(verdict.result.value, randomUUID())
      })

      const login = Effect.fn("Accounts.login")(function* (credentials: Credentials, client: string) {
        return yield* countLogin(attemptLogin(credentials, client))
      })

      const refresh = Effect.fn("Accounts.refresh")(function* (presented: string | null | undefined) {
        if (!given(presented)) return yield* new InvalidRequest({ error: "refreshToken is required" })
        const found = yield* unavailable(refreshTokens.findByHash(hashToken(presented)))
        if (Option.isNone(found)) return yield* new InvalidRefreshToken()
        const token = found.value
        if (token.revoked || token.expired) return yield* new InvalidRefreshToken()
        const user = yield* unavailable(users.findById(token.user_id))
        if (Option.isNone(user)) return yield* new InvalidRefreshToken()
        const next = newRefreshToken()
        // A used token presented again was stolen or replayed: end the whole session.
        const first =
          !token.used &&
          (yield* unavailable(
            refreshTokens.rotate(token.id, {
              user_id: token.user_id,
              family_id: token.family_id,
              token_hash: hashToken(next),
              ttlSeconds: refreshTtlSeconds,
            }),
          ))
        if (!first) {
          yield* unavailable(refreshTokens.revokeFamily(token.family_id))
          yield* revocations.revoke(token.family_id)
          yield* Effect.logWarning("refresh token reused: the session is revoked").pipe(
            Effect.annotateLogs("user_id", token.user_id),
          )
          return yield* new InvalidRefreshToken()
        }
        const { token: access, expiresIn } = yield* tokens.issue(user.value, token.family_id)
        return { token: access, refreshToken: next, expiresIn }
      })

      const logout = Effect.fn("Accounts.logout")(function* (presented: string | null | undefined) {
        if (!given(presented)) return yield* new InvalidRequest({ error: "refreshToken is required" })
        const found = yield* unavailable(refreshTokens.findByHash(hashToken(presented)))
        if (Option.isNone(found)) return
        yield* unavailable(refreshTokens.revokeFamily(found.value.family_id))
        // Its access tokens too, not only its refresh token: here at once, on other replicas within a poll.
        yield* revocations.revoke(found.value.family_id)
      })

      return Accounts.of({ register, login, refresh, logout })
    }),
  )

  /** Without a database there are no accounts: the original would hand anyone a token here. */
  static readonly disabled = Layer.effect(
    Accounts,
    Effect.as(exportLogins, {
      register: () => Effect.fail(new DatabaseNotConfigured()),
      login: () => countLogin(Effect.fail(new DatabaseNotConfigured())),
      refresh: () => Effect.fail(new DatabaseNotConfigured()),
      logout: () => Effect.fail(new DatabaseNotConfigured()),
    }),
  )
}
