import { Effect, Layer } from "effect"
import { RpcSerialization, RpcServer } from "effect/rpc"
import { CallerRpcs } from "./Api.ts"
import { Caller } from "./Caller.ts"

const handlers = CallerRpcs.toLayer(
  Effect.gen(function* () {
    const caller = yield* Caller
    return { CallExternal: ({ url }) => caller.callExternal(url) }
  }),
)

/** The Effect RPC group on `/rpc` (HTTP, JSON): what greeter calls. */
export const CallerRpc = RpcServer.layerHttp({ group: CallerRpcs, path: "/rpc", protocol: "http" }).pipe(
  Layer.provide([handlers, RpcSerialization.layerJson]),
)
