import * as HealthAnswers from "@platform/contracts/Health"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import * as Database from "@platform/shared/Database"
import * as GrpcHealth from "@platform/shared/GrpcHealth"
import * as GrpcReflection from "@platform/shared/GrpcReflection"
import * as Health from "@platform/shared/Health"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { GreeterConfig } from "./Config.ts"
import { CallerClient } from "./clients/CallerClient.ts"
import { Greeter } from "./Greeter.ts"
import { GreeterConnect } from "./inbound/Connect.ts"
import { GreetingsRepo } from "./persistence/GreetingsRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"

export const defaults = { name: "greeter", port: 8080 } as const

const Persistence = Database.layerOptional({
  migrations,
  enabled: GreetingsRepo.layer,
  disabled: GreetingsRepo.disabled,
})

const Domain = Greeter.layer.pipe(Layer.provide(CallerClient.layer), Layer.provide(GreeterConfig.layer))

const Routes = Layer.mergeAll(
  GreeterConnect,
  Health.layer(HealthAnswers.connectServices),
  // grpcurl and buf curl without the .proto files; Kubernetes' gRPC probes.
  GrpcReflection.layer([GreeterService]),
  GrpcHealth.layer([GreeterService]),
)

/** greeter on the given HTTP server. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(Layer.provideMerge(server), Layer.provide(Domain), Layer.provide(Persistence))
