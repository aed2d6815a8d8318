import { readFileSync } from "node:fs"
import { invalid, optionalString, positiveInt } from "@platform/shared/ServiceConfig"
import { Config, Context, Duration, Layer, Option } from "effect"

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

/** `AUTH_PRIVATE_KEY` itself, or the contents of the file `AUTH_PRIVATE_KEY_FILE` names. */
const privateKeys = Config.all({
  inline: optionalString("AUTH_PRIVATE_KEY"),
  file: optionalString("AUTH_PRIVATE_KEY_FILE"),
}).pipe(
  Config.flatMap(({ inline, file }) => {
    if (Option.isSome(inline) && Option.isSome(file)) {
      return invalid("AUTH_PRIVATE_KEY_FILE", "set either AUTH_PRIVATE_KEY or AUTH_PRIVATE_KEY_FILE, not both")
    }
    if (Option.isNone(file)) return Config.succeed(inline)
    try {
      return Config.succeed(Option.some(readFileSync(file.value, "utf8")))
    } catch (error) {
      return invalid("AUTH_PRIVATE_KEY_FILE", `cannot read ${file.value}: ${(error as Error).message}`)
    }
  }),
)

export const settings: Config.Config<Settings> = Config.all({
  issuer: optionalString("AUTH_ISSUER").pipe(Config.map(Option.getOrElse(() => "auth-service"))),
  tokenTtl: positiveInt("AUTH_TOKEN_TTL_SECONDS", 24 * 60 * 60).pipe(Config.map(Duration.seconds)),
  refreshTtl: positiveInt("AUTH_REFRESH_TTL_SECONDS", 30 * 24 * 60 * 60).pipe(Config.map(Duration.seconds)),
  privateKeys,
  publicUrl: optionalString("AUTH_PUBLIC_URL").pipe(Config.map(Option.map((url) => url.replace(/\/+$/, "")))),
  maxLoginFailures: positiveInt("AUTH_MAX_LOGIN_FAILURES", 5),
  loginFailureWindow: positiveInt("AUTH_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60).pipe(Config.map(Duration.seconds)),
})

export class AuthConfig extends Context.Service<AuthConfig, Settings>()("auth/AuthConfig") {
  static readonly layer = Layer.effect(AuthConfig, settings)
}
