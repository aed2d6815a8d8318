import * as ErrorBody from "@platform/contracts/ErrorBody"
import * as HealthAnswers from "@platform/contracts/Health"
import { LangApi } from "@platform/contracts/LangApi"
import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import * as RestApi from "@platform/shared/RestApi"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { LangHttp } from "./inbound/Http.ts"
import { Lang } from "./Lang.ts"
import { ExecutionsRepo } from "./persistence/ExecutionsRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"

export const defaults = { name: "lang", port: 3000 } as const

const Persistence = Database.layerOptional({
  migrations,
  enabled: ExecutionsRepo.layer,
  disabled: ExecutionsRepo.disabled,
})

const Routes = Layer.mergeAll(
  HttpApiBuilder.layer(LangApi, { openapiPath: "/openapi.json" }).pipe(Layer.provide(LangHttp)),
  // The contract as OpenAPI 3, and a page to try it (Scalar, bundled: no CDN).
  HttpApiScalar.layer(LangApi),
  Health.layer(HealthAnswers.restServices),
)

/**
 * lang on the given HTTP server. The database is ready (created, migrated) before the server
 * binds its port, and the server drains before the pool closes.
 */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(
    Layer.provide([RestApi.bodyLimit(), RestApi.requestValidation(ErrorBody.RequestValidation, ErrorBody.validation)]),
    Layer.provideMerge(server),
    Layer.provide(Lang.layer),
    Layer.provide(Persistence),
  )
