import * as HealthAnswers from "@platform/contracts/Health"
import { SpecimenService } from "@platform/proto-compat/specimen/v1"
import * as Database from "@platform/shared/Database"
import * as GrpcHealth from "@platform/shared/GrpcHealth"
import * as GrpcReflection from "@platform/shared/GrpcReflection"
import * as Health from "@platform/shared/Health"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { SpecimenConfig } from "./Config.ts"
import { Entries } from "./Entries.ts"
import { SpecimenConnect } from "./inbound/Connect.ts"
import { EntriesRepo } from "./persistence/EntriesRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"

export const defaults = { name: "specimen", port: 8098 } as const

const Persistence = Database.layerOptional({ migrations, enabled: EntriesRepo.layer, disabled: EntriesRepo.disabled })

const Routes = Layer.mergeAll(
  SpecimenConnect,
  Health.layer(HealthAnswers.connectServices),
  // grpcurl and buf curl without the .proto files; Kubernetes' gRPC probes.
  GrpcReflection.layer([SpecimenService]),
  GrpcHealth.layer([SpecimenService]),
)

/** specimen on the given HTTP server: `/healthz`, `/metrics` and traces come with the kernel. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(
    Layer.provideMerge(server),
    Layer.provide(Entries.layer.pipe(Layer.provide(SpecimenConfig.layer))),
    Layer.provide(Persistence),
  )
