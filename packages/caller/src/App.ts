import { NodeHttpClient } from "@effect/platform-node"
import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { Caller } from "./Caller.ts"
import { CallerConfig } from "./CallerConfig.ts"
import { CallLogQueue } from "./CallLogQueue.ts"
import { CallLogsRepo } from "./CallLogsRepo.ts"
import { CallerConnect } from "./Connect.ts"
import { migrations } from "./migrations/index.ts"
import { CallerRpc } from "./Rpc.ts"
import * as UrlPolicy from "./UrlPolicy.ts"

export const defaults = { name: "caller", port: 8081 } as const

/** The client for external URLs: its sockets resolve names through the link-local check. */
const ExternalHttp = NodeHttpClient.layerUndiciOptions({ connect: { lookup: UrlPolicy.lookup } as never })

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

const Routes = Layer.mergeAll(CallerConnect, CallerRpc, Health.layer("connect"))

/**
 * caller on the given HTTP server. On shutdown the server drains first, then the call-log
 * queue empties into the database, then the pool closes.
 */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(Layer.provideMerge(server), Layer.provide(Domain), Layer.provide(Persistence))
