import { CallerRpcs, codeOf, RPC_FRAMED_PATH, RPC_PATH, RPC_SERVICE } from "@platform/contracts/CallerRpcs"
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

/** The group on `path`, its messages in the `serialization` given. */
const serveOn = (
  path: typeof RPC_PATH | typeof RPC_FRAMED_PATH,
  serialization: Layer.Layer<RpcSerialization.RpcSerialization>,
) =>
  RpcServer.layerHttp({ group: CallerRpcs, path, protocol: "http", spanPrefix: RPC_SERVICE }).pipe(
    Layer.provide([handlers, serialization]),
  )

/**
 * The Effect RPC group greeter calls, twice: on `/rpc` in JSON (one answer per HTTP request, as
 * earlier greeters call it) and on `/rpc/ndjson` framed (each answer as its call completes, which
 * the calls greeter batches into one request need). Each call is a server span
 * `caller.Caller.CallExternal`, a child of greeter's client span (Effect RPC carries the trace
 * in its messages, whatever the transport).
 */
export const CallerRpc = Layer.mergeAll(
  serveOn(RPC_PATH, RpcSerialization.layerJson),
  serveOn(RPC_FRAMED_PATH, RpcSerialization.layerNdjson),
)
