import { Code, ConnectError, createClient } from "@connectrpc/connect"
import { createConnectTransport } from "@connectrpc/connect-node"
import { NodeHttpClient } from "@effect/platform-node"
import { CallerRpcs, type CallResult, codeOf, RPC_SERVICE } from "@platform/caller/Api"
import { CallerService } from "@platform/proto-compat/caller/v1"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { RPC_PATH } from "@platform/shared/HttpTelemetry"
import { Context, Effect, Layer, Schema } from "effect"
import { HttpTraceContext } from "effect/http"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { GreeterConfig } from "./GreeterConfig.ts"

/**
 * caller failed the call, or could not be reached: `code` is what greeter answers with (the
 * contract passes caller's own code through unchanged).
 */
export class CallerFailed extends Schema.TaggedError<CallerFailed>()("CallerFailed", {
  code: Schema.Enum(Code),
  message: Schema.String,
}) {}

/**
 * greeter's view of caller: one operation, two transports. Effect RPC by default (typed end to
 * end, cheaper than a second Connect hop); Connect with `CALLER_PROTOCOL=connect`, so that our
 * greeter also works against the original Go caller or any Connect-speaking caller.
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
          client
            .CallExternal({ url })
            .pipe(
              Effect.catch((error) =>
                Effect.fail(
                  error._tag === "RpcClientError"
                    ? new CallerFailed({ code: Code.Unavailable, message: `caller: ${ErrorMessage.describe(error)}` })
                    : new CallerFailed({ code: codeOf(error), message: error.message }),
                ),
              ),
            ),
      })
    }),
  ).pipe(
    Layer.provide(
      Layer.unwrap(
        Effect.map(GreeterConfig, (config) =>
          RpcClient.layerProtocolHttp({ url: `${config.callerBaseUrl}${RPC_PATH}` }),
        ),
      ),
    ),
    Layer.provide([NodeHttpClient.layerUndici, RpcSerialization.layerJson]),
  )

  static readonly connect = Layer.effect(
    CallerClient,
    Effect.gen(function* () {
      const config = yield* GreeterConfig
      const client = createClient(
        CallerService,
        createConnectTransport({ baseUrl: config.callerBaseUrl, httpVersion: "2", useBinaryFormat: true }),
      )
      return CallerClient.of({
        callExternal: (url) =>
          // Connect has no Effect tracing: a client span of our own, carried in `traceparent`.
          Effect.useSpan(
            `${CallerService.typeName}/CallExternal`,
            {
              kind: "client",
              attributes: {
                "rpc.system": "connect_rpc",
                "rpc.service": CallerService.typeName,
                "rpc.method": "CallExternal",
              },
            },
            (span) =>
              Effect.tryPromise({
                try: (signal) =>
                  client.callExternal({ url }, { signal, headers: { ...HttpTraceContext.toHeaders(span) } }),
                catch: (error) => {
                  const connectError = ConnectError.from(error)
                  return new CallerFailed({ code: connectError.code, message: connectError.rawMessage })
                },
              }).pipe(Effect.map((response) => ({ statusCode: response.statusCode, bodyLength: response.bodyLength }))),
          ),
      })
    }),
  )

  /** The transport `CALLER_PROTOCOL` names. */
  static readonly layer = Layer.unwrap(
    Effect.map(GreeterConfig, (config) =>
      config.callerProtocol === "connect" ? CallerClient.connect : CallerClient.rpc,
    ),
  )
}
