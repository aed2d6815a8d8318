import { AuthApi } from "@platform/contracts/AuthApi"
import * as ErrorBody from "@platform/contracts/ErrorBody"
import * as HealthAnswers from "@platform/contracts/Health"
import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import * as RestApi from "@platform/shared/RestApi"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { Accounts } from "./Accounts.ts"
import { AuthConfig } from "./Config.ts"
import { AccountsHttp, BearerChallenge, TokensHttp } from "./inbound/Http.ts"
import { KeyVault } from "./KeyVault.ts"
import { Passwords } from "./Passwords.ts"
import { LoginFailuresRepo } from "./persistence/LoginFailuresRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"
import { RefreshTokensRepo } from "./persistence/RefreshTokensRepo.ts"
import { SigningKeysRepo } from "./persistence/SigningKeysRepo.ts"
import { UsersRepo } from "./persistence/UsersRepo.ts"
import { Revocations } from "./Revocations.ts"
import { SigningKeys } from "./SigningKeys.ts"
import { Tokens } from "./Tokens.ts"

export const defaults = { name: "auth", port: 8090 } as const

/** Accounts and shared keys in auth_db; without a database, verification only (see README). */
const Persistence = Database.layerOptional({
  migrations,
  enabled: Accounts.layer.pipe(
    Layer.provideMerge(Tokens.layer),
    Layer.provideMerge(Revocations.layer),
    Layer.provideMerge(SigningKeys.layerStored),
    Layer.provide([UsersRepo.layer, LoginFailuresRepo.layer, RefreshTokensRepo.layer, SigningKeysRepo.layer]),
    Layer.provide([Passwords.layer, KeyVault.layer]),
  ),
  disabled: Layer.merge(
    Accounts.disabled,
    Tokens.layer.pipe(Layer.provide(Revocations.none), Layer.provideMerge(SigningKeys.layerEphemeral)),
  ),
})

const Routes = Layer.mergeAll(
  HttpApiBuilder.layer(AuthApi, { openapiPath: "/openapi.json" }).pipe(Layer.provide([AccountsHttp, TokensHttp])),
  // The contract as OpenAPI 3, and a page to try it (Scalar, bundled: no CDN).
  HttpApiScalar.layer(AuthApi),
  Health.layer(HealthAnswers.restServices),
).pipe(Layer.provide(BearerChallenge))

/** auth on the given HTTP server; the database and keys are ready before the port opens. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(
    Layer.provide([RestApi.bodyLimit(), RestApi.requestValidation(ErrorBody.RequestValidation, ErrorBody.validation)]),
    Layer.provideMerge(server),
    Layer.provide(Persistence),
    Layer.provideMerge(AuthConfig.layer),
  )
