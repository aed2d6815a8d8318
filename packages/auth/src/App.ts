import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import { bodyLimit, RequestValidation } from "@platform/shared/RestApi"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Accounts } from "./Accounts.ts"
import { AuthApi } from "./Api.ts"
import { AuthConfig } from "./AuthConfig.ts"
import { AccountsHttp, TokensHttp } from "./Http.ts"
import { LoginFailuresRepo } from "./LoginFailuresRepo.ts"
import { migrations } from "./migrations/index.ts"
import { Passwords } from "./Passwords.ts"
import { RefreshTokensRepo } from "./RefreshTokensRepo.ts"
import { SigningKeys } from "./SigningKeys.ts"
import { SigningKeysRepo } from "./SigningKeysRepo.ts"
import { Tokens } from "./Tokens.ts"
import { UsersRepo } from "./UsersRepo.ts"

export const defaults = { name: "auth", port: 8090 } as const

/** Accounts and shared keys in auth_db; without a database, verification only (see README). */
const Persistence = Database.layerOptional({
  migrations,
  enabled: Accounts.layer.pipe(
    Layer.provideMerge(Tokens.layer),
    Layer.provideMerge(SigningKeys.layerStored),
    Layer.provide([UsersRepo.layer, LoginFailuresRepo.layer, RefreshTokensRepo.layer, SigningKeysRepo.layer]),
    Layer.provide(Passwords.layer),
  ),
  disabled: Layer.merge(Accounts.disabled, Tokens.layer.pipe(Layer.provideMerge(SigningKeys.layerEphemeral))),
})

const Routes = Layer.mergeAll(
  HttpApiBuilder.layer(AuthApi).pipe(Layer.provide([AccountsHttp, TokensHttp])),
  Health.layer("rest"),
)

/** auth on the given HTTP server; the database and keys are ready before the port opens. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(
    Layer.provide([bodyLimit, RequestValidation.layer]),
    Layer.provideMerge(server),
    Layer.provide(Persistence),
    Layer.provideMerge(AuthConfig.layer),
  )
