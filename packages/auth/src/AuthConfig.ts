import { readFileSync } from "node:fs"
import { Config, ConfigProvider, Context, Duration, Layer, Option } from "effect"

/** auth's own settings, beyond the kernel's common ones. */
export interface Settings {
  /** `iss` of every token, and the issuer verification demands. */
  readonly issuer: string
  readonly tokenTtl: Duration.Duration
  readonly refreshTtl: Duration.Duration
  /** Private signing keys given by the operator (PEM or JWK text); none: keys live in auth_db. */
  readonly privateKeys: Option.Option<string>
  /** Base URL clients reach auth at, for OpenID discovery; none: from the request's Host. */
  readonly publicUrl: Option.Option<string>
  readonly maxLoginFailures: number
  readonly loginFailureWindow: Duration.Duration
}

const optional = (name: string) =>
  Config.String(name).pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))

const fail = (name: string, message: string) =>
  Config.fail(new ConfigProvider.SourceError({ message: `${name}: ${message}` }))

const positive = (name: string, fallback: number) =>
  optional(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed(fallback),
        onSome: (raw) =>
          /^\d+$/.test(raw.trim()) && Number(raw) > 0
            ? Config.succeed(Number(raw))
            : fail(name, `expected a positive whole number, got ${JSON.stringify(raw)}`),
      }),
    ),
  )

/** `AUTH_PRIVATE_KEY` itself, or the contents of the file `AUTH_PRIVATE_KEY_FILE` names. */
const privateKeys = Config.all({ inline: optional("AUTH_PRIVATE_KEY"), file: optional("AUTH_PRIVATE_KEY_FILE") }).pipe(
  Config.flatMap(({ inline, file }) => {
    if (Option.isSome(inline) && Option.isSome(file)) {
      return fail("AUTH_PRIVATE_KEY_FILE", "set either AUTH_PRIVATE_KEY or AUTH_PRIVATE_KEY_FILE, not both")
    }
    if (Option.isNone(file)) return Config.succeed(inline)
    try {
      return Config.succeed(Option.some(readFileSync(file.value, "utf8")))
    } catch (error) {
      return fail("AUTH_PRIVATE_KEY_FILE", `cannot read ${file.value}: ${(error as Error).message}`)
    }
  }),
)

export const settings: Config.Config<Settings> = Config.all({
  issuer: optional("AUTH_ISSUER").pipe(Config.map(Option.getOrElse(() => "auth-service"))),
  tokenTtl: positive("AUTH_TOKEN_TTL_SECONDS", 24 * 60 * 60).pipe(Config.map(Duration.seconds)),
  refreshTtl: positive("AUTH_REFRESH_TTL_SECONDS", 30 * 24 * 60 * 60).pipe(Config.map(Duration.seconds)),
  privateKeys,
  publicUrl: optional("AUTH_PUBLIC_URL").pipe(Config.map(Option.map((url) => url.replace(/\/+$/, "")))),
  maxLoginFailures: positive("AUTH_MAX_LOGIN_FAILURES", 5),
  loginFailureWindow: positive("AUTH_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60).pipe(Config.map(Duration.seconds)),
})

export class AuthConfig extends Context.Service<AuthConfig, Settings>()("auth/AuthConfig") {
  static readonly layer = Layer.effect(AuthConfig, settings)
}
