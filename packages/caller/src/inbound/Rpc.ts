import { CallerRpcs, codeOf, RPC_PATH, RPC_SERVICE } from "@platform/contracts/CallerRpcs"
import * as Deadline from "@platform/shared/Deadline"
import * as RpcMetrics from "@platform/shared/RpcMetrics"
import { Effect, Layer } from "effect"
import { RpcSerialization, RpcServer } from "effect/rpc"
import { Caller } from "../Caller.ts"

const handlers = CallerRpcs.toLayer(
  Effect.gen(function* () {
    const caller = yield* Caller
    return {
      CallExternal: ({ url }, { headers }) =>
        caller.callExternal(url).pipe(
          // greeter sends what is left of its deadline; the fetch gets no more than that.
          Deadline.fromRpcHeaders(headers),
          RpcMetrics.observe(
            { system: "effect_rpc", service: RPC_SERVICE, method: "CallExternal" },
            (error) => codeOf[error._tag],
          ),
        ),
    }
  }),
)

/**
 * The Effect RPC group on `/rpc` (HTTP, JSON): what greeter calls. Each call is a server span
 * `caller.Caller.CallExternal`, a child of greeter's client span (Effect RPC carries the trace
 * in its messages, whatever the transport).
 */
export const CallerRpc = RpcServer.layerHttp({
  group: CallerRpcs,
  path: RPC_PATH,
  protocol: "http",
  spanPrefix: RPC_SERVICE,
}).pipe(Layer.provide([handlers, RpcSerialization.layerJson]))
