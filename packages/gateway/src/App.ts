import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { GatewayApi } from "./Api.ts"
import { GatewayConnect } from "./Connect.ts"
import { Gateway } from "./Gateway.ts"
import { GatewayConfig } from "./GatewayConfig.ts"
import { ResilienceHttp } from "./Http.ts"
import { IdempotencyRepo } from "./IdempotencyRepo.ts"
import { InvocationsRepo } from "./InvocationsRepo.ts"
import { LangClient } from "./LangClient.ts"
import { migrations } from "./migrations/index.ts"
import { Resilience } from "./Resilience.ts"

export const defaults = { name: "gateway", port: 8082 } as const

const Persistence = Database.layerOptional({
  migrations,
  enabled: Layer.merge(InvocationsRepo.layer, IdempotencyRepo.layer),
  disabled: Layer.merge(InvocationsRepo.disabled, IdempotencyRepo.disabled),
})

const Domain = Gateway.layer.pipe(
  Layer.provide(LangClient.layer),
  Layer.provideMerge(Resilience.layer),
  Layer.provide(GatewayConfig.layer),
)

const Routes = Layer.mergeAll(
  GatewayConnect,
  HttpApiBuilder.layer(GatewayApi).pipe(Layer.provide(ResilienceHttp)),
  Health.layer("connect"),
)

/** gateway on the given HTTP server. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(Layer.provideMerge(server), Layer.provide(Domain), Layer.provide(Persistence))
