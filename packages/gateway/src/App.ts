import { GatewayApi } from "@platform/contracts/GatewayApi"
import * as HealthAnswers from "@platform/contracts/Health"
import { GatewayService } from "@platform/proto-compat/gateway/v1"
import * as Database from "@platform/shared/Database"
import * as GrpcHealth from "@platform/shared/GrpcHealth"
import * as GrpcReflection from "@platform/shared/GrpcReflection"
import * as Health from "@platform/shared/Health"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { GatewayConfig } from "./Config.ts"
import { LangClient } from "./clients/LangClient.ts"
import { Gateway } from "./Gateway.ts"
import { GatewayConnect } from "./inbound/Connect.ts"
import { ResilienceHttp } from "./inbound/Http.ts"
import { Idempotency } from "./inbound/Idempotency.ts"
import { IdempotencyRepo } from "./persistence/IdempotencyRepo.ts"
import { InvocationsRepo } from "./persistence/InvocationsRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"
import { Resilience } from "./Resilience.ts"

export const defaults = { name: "gateway", port: 8082 } as const

const Persistence = Database.layerOptional({
  migrations,
  enabled: Layer.merge(InvocationsRepo.layer, IdempotencyRepo.layer),
  disabled: Layer.merge(InvocationsRepo.disabled, IdempotencyRepo.disabled),
})

const Domain = Layer.merge(Gateway.layer, Idempotency.layer).pipe(
  Layer.provide(LangClient.layer),
  Layer.provideMerge(Resilience.layer),
  Layer.provide(GatewayConfig.layer),
)

const Routes = Layer.mergeAll(
  GatewayConnect,
  HttpApiBuilder.layer(GatewayApi, { openapiPath: "/openapi.json" }).pipe(Layer.provide(ResilienceHttp)),
  // The contract as OpenAPI 3, and a page to try it (Scalar, bundled: no CDN).
  HttpApiScalar.layer(GatewayApi),
  Health.layer(HealthAnswers.connectServices),
  // grpcurl and buf curl without the .proto files; Kubernetes' gRPC probes.
  GrpcReflection.layer([GatewayService]),
  GrpcHealth.layer([GatewayService]),
)

/** gateway on the given HTTP server. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(Layer.provideMerge(server), Layer.provide(Domain), Layer.provide(Persistence))
