import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import { bodyLimit, RequestValidation } from "@platform/shared/RestApi"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { LangApi } from "./Api.ts"
import { ExecutionsRepo } from "./ExecutionsRepo.ts"
import { LangHttp } from "./Http.ts"
import { Lang } from "./Lang.ts"
import { migrations } from "./migrations/index.ts"

export const defaults = { name: "lang", port: 3000 } as const

const Persistence = Database.layerOptional({
  migrations,
  enabled: ExecutionsRepo.layer,
  disabled: ExecutionsRepo.disabled,
})

const Routes = Layer.mergeAll(HttpApiBuilder.layer(LangApi).pipe(Layer.provide(LangHttp)), Health.layer("rest"))

/**
 * lang on the given HTTP server. The database is ready (created, migrated) before the server
 * binds its port, and the server drains before the pool closes.
 */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(
    Layer.provide([bodyLimit, RequestValidation.layer]),
    Layer.provideMerge(server),
    Layer.provide(Lang.layer),
    Layer.provide(Persistence),
  )
