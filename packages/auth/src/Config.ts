import { readFileSync } from "node:fs"
import { PRIVATE_NETWORKS } from "@platform/shared/ClientAddress"
import { cidrList, invalid, optionalString, positiveInt } from "@platform/shared/ServiceConfig"
import { Config, Context, Duration, Layer, Option, Redacted } from "effect"

/** auth's own settings, beyond the kernel's common ones. */
export interface Settings {
  /** `iss` of every token, and the issuer verification demands. */
  readonly issuer: string
  readonly tokenTtl: Duration.Duration
  readonly refreshTtl: Duration.Duration
  /** Private signing keys given by the operator (PEM or JWK text); none: keys live in auth_db. */
  readonly privateKeys: Option.Option<{ readonly text: string; readonly from: string }>
  /** `RSA_PUBLIC_KEY`, as the original service takes it beside `RSA_PRIVATE_KEY`: checked against it. */
  readonly publicKey: Option.Option<string>
  /** Base URL clients reach auth at, for OpenID discovery; none: from the request's Host. */
  readonly publicUrl: Option.Option<string>
  /** Failures of one (email, client) in the window before that pair is refused (429). */
  readonly maxLoginFailures: number
  /** Failures from one client, whatever the emails, before the client is refused. */
  readonly maxLoginFailuresPerClient: number
  readonly loginFailureWindow: Duration.Duration
  /** Logins of one client checked at once (`AUTH_LOGINS_PER_CLIENT`): its share of bcrypt's threads. */
  readonly loginsPerClient: number
  /** Logins of one client waiting for its share (`AUTH_LOGINS_QUEUED_PER_CLIENT`); beyond, 429. */
  readonly loginsQueuedPerClient: number
  /** `AUTH_KEY_ENCRYPTION_KEY`: 32 bytes (base64) sealing the signing keys stored in auth_db. */
  readonly keyEncryptionKey: Option.Option<Redacted.Redacted<Uint8Array>>
  /** How often each replica reads the sessions revoked elsewhere (`AUTH_REVOCATION_POLL_MS`). */
  readonly revocationPoll: Duration.Duration
  /** Proxies whose `X-Real-Ip` names the client (`AUTH_TRUSTED_PROXIES`; private networks by default). */
  readonly trustedProxies: ReadonlyArray<string>
}

/**
 * The operator's keys: `AUTH_PRIVATE_KEY` itself, the contents of the file `AUTH_PRIVATE_KEY_FILE`
 * names, or the original service's `RSA_PRIVATE_KEY` (PEM), so that a replacement in the original
 * deployment signs with the key its tokens were signed with. One of the three at most.
 */
const privateKeys = Config.all({
  inline: optionalString("AUTH_PRIVATE_KEY"),
  file: optionalString("AUTH_PRIVATE_KEY_FILE"),
  original: optionalString("RSA_PRIVATE_KEY"),
}).pipe(
  Config.flatMap(({ inline, file, original }) => {
    const given = [
      ["AUTH_PRIVATE_KEY", inline],
      ["AUTH_PRIVATE_KEY_FILE", file],
      ["RSA_PRIVATE_KEY", original],
    ] as const
    const set = given.filter(([, value]) => Option.isSome(value)).map(([name]) => name)
    if (set.length > 1) return invalid(set[1] as string, `set one of ${set.join(" and ")}, not both`)
    if (Option.isSome(inline)) return Config.succeed(Option.some({ text: inline.value, from: "AUTH_PRIVATE_KEY" }))
    if (Option.isSome(original)) return Config.succeed(Option.some({ text: original.value, from: "RSA_PRIVATE_KEY" }))
    if (Option.isNone(file)) return Config.succeed(Option.none())
    try {
      return Config.succeed(Option.some({ text: readFileSync(file.value, "utf8"), from: "AUTH_PRIVATE_KEY_FILE" }))
    } catch (error) {
      return invalid("AUTH_PRIVATE_KEY_FILE", `cannot read ${file.value}: ${(error as Error).message}`)
    }
  }),
)

/** 32 random bytes in base64 (`openssl rand -base64 32`): a passphrase would be a weak AES key. */
const keyEncryptionKey = optionalString("AUTH_KEY_ENCRYPTION_KEY").pipe(
  Config.flatMap(
    Option.match({
      onNone: () => Config.succeed(Option.none<Redacted.Redacted<Uint8Array>>()),
      onSome: (text) => {
        const bytes = Buffer.from(text.trim(), "base64")
        return bytes.length === 32
          ? Config.succeed(Option.some(Redacted.make(new Uint8Array(bytes))))
          : invalid(
              "AUTH_KEY_ENCRYPTION_KEY",
              `expected 32 bytes in base64 (openssl rand -base64 32), got ${bytes.length} bytes`,
            )
      },
    }),
  ),
)

export const settings: Config.Config<Settings> = Config.all({
  issuer: optionalString("AUTH_ISSUER").pipe(Config.map(Option.getOrElse(() => "auth-service"))),
  tokenTtl: positiveInt("AUTH_TOKEN_TTL_SECONDS", 24 * 60 * 60).pipe(Config.map(Duration.seconds)),
  refreshTtl: positiveInt("AUTH_REFRESH_TTL_SECONDS", 30 * 24 * 60 * 60).pipe(Config.map(Duration.seconds)),
  privateKeys,
  publicKey: optionalString("RSA_PUBLIC_KEY"),
  publicUrl: optionalString("AUTH_PUBLIC_URL").pipe(Config.map(Option.map((url) => url.replace(/\/+$/, "")))),
  maxLoginFailures: positiveInt("AUTH_MAX_LOGIN_FAILURES", 5),
  maxLoginFailuresPerClient: positiveInt("AUTH_MAX_LOGIN_FAILURES_PER_CLIENT", 50),
  trustedProxies: cidrList("AUTH_TRUSTED_PROXIES", PRIVATE_NETWORKS),
  loginFailureWindow: positiveInt("AUTH_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60).pipe(Config.map(Duration.seconds)),
  keyEncryptionKey,
  revocationPoll: positiveInt("AUTH_REVOCATION_POLL_MS", 1000).pipe(Config.map(Duration.millis)),
  loginsPerClient: positiveInt("AUTH_LOGINS_PER_CLIENT", 2),
  loginsQueuedPerClient: positiveInt("AUTH_LOGINS_QUEUED_PER_CLIENT", 16),
})

export class AuthConfig extends Context.Service<AuthConfig, Settings>()("auth/AuthConfig") {
  static readonly layer = Layer.effect(AuthConfig, settings)
}
