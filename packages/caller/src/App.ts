import { RPC_FRAMED_PATH, RPC_PATH } from "@platform/contracts/CallerRpcs"
import * as HealthAnswers from "@platform/contracts/Health"
import { CallerService } from "@platform/proto-compat/caller/v1"
import * as Database from "@platform/shared/Database"
import * as GrpcHealth from "@platform/shared/GrpcHealth"
import * as GrpcReflection from "@platform/shared/GrpcReflection"
import * as Health from "@platform/shared/Health"
import * as RestApi from "@platform/shared/RestApi"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { Caller } from "./Caller.ts"
import { CallerConfig } from "./Config.ts"
import { ExternalHttp } from "./clients/ExternalHttp.ts"
import { CallerConnect } from "./inbound/Connect.ts"
import { CallerRpc } from "./inbound/Rpc.ts"
import { CallLogQueue } from "./persistence/CallLogQueue.ts"
import { CallLogsRepo } from "./persistence/CallLogsRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"

export const defaults = { name: "caller", port: 8081 } as const

const Domain = Caller.layer.pipe(
  Layer.provide([CallLogQueue.layer, ExternalHttp]),
  Layer.provideMerge(CallLogQueue.layer),
  Layer.provide(CallerConfig.layer),
)

const Persistence = Database.layerOptional({
  migrations,
  enabled: CallLogsRepo.layer,
  disabled: CallLogsRepo.disabled,
})

const Routes = Layer.mergeAll(
  CallerConnect,
  CallerRpc,
  Health.layer(HealthAnswers.connectServices),
  // grpcurl and buf curl without the .proto files; Kubernetes' gRPC probes.
  GrpcReflection.layer([CallerService]),
  GrpcHealth.layer([CallerService]),
)

/**
 * caller on the given HTTP server. On shutdown the server drains first, then the call-log
 * queue empties into the database, then the pool closes.
 */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes, { rpcPaths: [RPC_PATH, RPC_FRAMED_PATH] }).pipe(
    Layer.provide(RestApi.requestLimit),
    Layer.provideMerge(server),
    Layer.provide(Domain),
    Layer.provide(Persistence),
  )
