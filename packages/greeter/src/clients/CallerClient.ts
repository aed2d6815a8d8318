import { ConnectError, createClient } from "@connectrpc/connect"
import { createConnectTransport } from "@connectrpc/connect-node"
import { NodeHttpClient } from "@effect/platform-node"
import {
  CallerRpcs,
  type CallResult,
  codeOf,
  RPC_FRAMED_PATH,
  RPC_PATH,
  RPC_SERVICE,
} from "@platform/contracts/CallerRpcs"
import * as RpcCode from "@platform/contracts/RpcCode"
import { CallerService } from "@platform/proto-compat/caller/v1"
import * as Bulkhead from "@platform/resilience/Bulkhead"
import * as BulkheadMetrics from "@platform/resilience/BulkheadMetrics"
import * as Deadline from "@platform/shared/Deadline"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import * as HttpTelemetry from "@platform/shared/HttpTelemetry"
import * as RpcBatching from "@platform/shared/RpcBatching"
import { Context, Duration, Effect, Layer } from "effect"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { GreeterConfig } from "../Config.ts"
import { CallerFailed, CallerRejected, CallerTimedOut, CallerUnreachable } from "../errors.ts"

/** The deadline left nothing to give caller: the call is not sent. */
const spent = (error: Deadline.DeadlineExceeded) =>
  new CallerFailed({ reason: new CallerTimedOut({ message: error.message }) })

const unreachable = (message: string) => new CallerFailed({ reason: new CallerUnreachable({ message }) })
const rejected = (code: RpcCode.RpcCode, message: string) =>
  new CallerFailed({ reason: new CallerRejected({ code, message }) })

/**
 * greeter's view of caller: one operation, two transports. Effect RPC by default (typed end to
 * end, cheaper than a second Connect hop); Connect with `CALLER_PROTOCOL=connect`, so that our
 * greeter also works against the original Go caller or any Connect-speaking caller. Either way,
 * caller's own failures come back with their code, and anything else as unreachable.
 */
export class CallerClient extends Context.Service<
  CallerClient,
  { readonly callExternal: (url: string) => Effect.Effect<CallResult, CallerFailed> }
>()("greeter/CallerClient") {
  static readonly rpc = Layer.effect(
    CallerClient,
    Effect.gen(function* () {
      const client = yield* RpcClient.make(CallerRpcs, { spanPrefix: RPC_SERVICE })
      return CallerClient.of({
        callExternal: (url) =>
          Deadline.outbound(undefined).pipe(
            Effect.mapError(spent),
            Effect.andThen(
              client.CallExternal({ url }).pipe(
                Deadline.sendOnRpc,
                Effect.mapError((error) =>
                  error._tag === "RpcClientError"
                    ? unreachable(`caller: ${ErrorMessage.describe(error)}`)
                    : rejected(codeOf[error._tag], error.message),
                ),
              ),
            ),
          ),
      })
    }),
  ).pipe(
    Layer.provide(
      Layer.unwrap(
        Effect.map(GreeterConfig, (config) =>
          Duration.isZero(config.callerBatchWindow)
            ? RpcClient.layerProtocolHttp({ url: `${config.callerBaseUrl}${RPC_PATH}` }).pipe(
                Layer.provide(RpcSerialization.layerJson),
              )
            : // Calls that crowd in share a request; their answers come back framed, each as it completes.
              RpcBatching.layerProtocolHttp({
                url: `${config.callerBaseUrl}${RPC_FRAMED_PATH}`,
                window: config.callerBatchWindow,
              }).pipe(Layer.provide(RpcSerialization.layerNdjson)),
        ),
      ),
    ),
    Layer.provide(NodeHttpClient.layerUndici),
  )

  static readonly connect = Layer.effect(
    CallerClient,
    Effect.gen(function* () {
      const config = yield* GreeterConfig
      const client = createClient(
        CallerService,
        createConnectTransport({ baseUrl: config.callerBaseUrl, httpVersion: "2", useBinaryFormat: true }),
      )
      const attributes = {
        "rpc.system": "connect_rpc",
        "rpc.service": CallerService.typeName,
        "rpc.method": "CallExternal",
      }
      return CallerClient.of({
        callExternal: (url) =>
          HttpTelemetry.withClientSpan(`${CallerService.typeName}/CallExternal`, attributes, (traceHeaders) =>
            Effect.flatMap(Effect.mapError(Deadline.outbound(undefined), spent), (timeoutMs) =>
              Effect.tryPromise({
                // connect-node sends what is left as `connect-timeout-ms` (or `grpc-timeout`).
                try: (signal) =>
                  client.callExternal(
                    { url },
                    { signal, headers: { ...traceHeaders }, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
                  ),
                catch: (error) => {
                  const connectError = ConnectError.from(error)
                  return rejected(RpcCode.fromNumber(connectError.code), connectError.rawMessage)
                },
              }),
            ).pipe(Effect.map((response) => ({ statusCode: response.statusCode, bodyLength: response.bodyLength }))),
          ),
      })
    }),
  )

  /**
   * The transport `CALLER_PROTOCOL` names, behind a bulkhead: at most
   * `GREETER_CALLER_MAX_CONCURRENT` calls running and `GREETER_CALLER_MAX_QUEUED` waiting, any
   * more refused at once with `resource_exhausted`, so a slow caller holds a bounded part of greeter.
   */
  static readonly layer = Layer.effect(
    CallerClient,
    Effect.gen(function* () {
      const config = yield* GreeterConfig
      const transport = yield* CallerClient
      const bulkhead = yield* Bulkhead.make({
        name: "caller",
        maxConcurrent: config.callerMaxConcurrent,
        maxQueued: config.callerMaxQueued,
      })
      yield* BulkheadMetrics.observe(bulkhead)
      return CallerClient.of({
        callExternal: (url) =>
          transport.callExternal(url).pipe(
            bulkhead.execute,
            Effect.catchTag("BulkheadRejected", (busy) => Effect.fail(rejected("resource_exhausted", busy.message))),
          ),
      })
    }),
  ).pipe(
    Layer.provide(
      Layer.unwrap(
        Effect.map(GreeterConfig, (config) =>
          config.callerProtocol === "connect" ? CallerClient.connect : CallerClient.rpc,
        ),
      ),
    ),
  )
}
