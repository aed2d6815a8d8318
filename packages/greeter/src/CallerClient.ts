import { Code, ConnectError, createClient } from "@connectrpc/connect"
import { createConnectTransport } from "@connectrpc/connect-node"
import { NodeHttpClient } from "@effect/platform-node"
import { CallerRpcs, type CallResult, codeOf } from "@platform/caller/Api"
import { CallerService } from "@platform/proto-compat/caller/v1"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { Context, Effect, Layer, Option, Schema } from "effect"
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
      const client = yield* RpcClient.make(CallerRpcs)
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
        Effect.map(GreeterConfig, (config) => RpcClient.layerProtocolHttp({ url: `${config.callerBaseUrl}/rpc` })),
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
          Effect.gen(function* () {
            // Connect has no Effect tracing: carry the trace across by hand.
            const span = yield* Effect.option(Effect.currentSpan)
            const headers = Option.match(span, {
              onNone: (): Record<string, string> => ({}),
              onSome: (current) => ({ traceparent: `00-${current.traceId}-${current.spanId}-01` }),
            })
            const response = yield* Effect.tryPromise({
              try: (signal) => client.callExternal({ url }, { signal, headers }),
              catch: (error) => {
                const connectError = ConnectError.from(error)
                return new CallerFailed({ code: connectError.code, message: connectError.rawMessage })
              },
            })
            return { statusCode: response.statusCode, bodyLength: response.bodyLength }
          }),
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
