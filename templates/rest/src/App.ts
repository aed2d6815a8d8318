import * as ErrorBody from "@platform/contracts/ErrorBody"
import * as HealthAnswers from "@platform/contracts/Health"
import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import * as RestApi from "@platform/shared/RestApi"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { SpecimenApi } from "./Api.ts"
import { SpecimenConfig } from "./Config.ts"
import { Entries } from "./Entries.ts"
import { EntriesHttp } from "./inbound/Http.ts"
import { EntriesRepo } from "./persistence/EntriesRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"

export const defaults = { name: "specimen", port: 8097 } as const

const Persistence = Database.layerOptional({ migrations, enabled: EntriesRepo.layer, disabled: EntriesRepo.disabled })

const Routes = Layer.mergeAll(
  HttpApiBuilder.layer(SpecimenApi, { openapiPath: "/openapi.json" }).pipe(Layer.provide(EntriesHttp)),
  // The contract as OpenAPI 3, and a page to try it (Scalar, bundled: no CDN).
  HttpApiScalar.layer(SpecimenApi),
  Health.layer(HealthAnswers.restServices),
)

/** specimen on the given HTTP server: `/healthz`, `/metrics` and traces come with the kernel. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(
    Layer.provide([RestApi.bodyLimit(), RestApi.requestValidation(ErrorBody.RequestValidation, ErrorBody.validation)]),
    Layer.provideMerge(server),
    Layer.provide(Entries.layer.pipe(Layer.provide(SpecimenConfig.layer))),
    Layer.provide(Persistence),
  )
