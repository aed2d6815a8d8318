import { ConnectError } from "@connectrpc/connect"
import { GatewayService } from "@platform/proto-compat/gateway/v1"
import * as Connect from "@platform/shared/Connect"
import { Effect } from "effect"
import { codeOf, type InvokeFailure } from "./Api.ts"
import { Gateway } from "./Gateway.ts"

/** `gateway.v1.GatewayService` over Connect, gRPC and gRPC-Web; `Idempotency-Key` is honoured. */
export const GatewayConnect = Connect.layer({
  service: GatewayService,
  handlers: {
    invokeCustom: (request, context) =>
      Effect.flatMap(Gateway, (gateway) =>
        Effect.map(
          gateway.invoke(request.name, context.requestHeader.get("idempotency-key") ?? undefined),
          (message) => ({
            message,
          }),
        ),
      ),
  },
  toConnectError: (failure: InvokeFailure) => new ConnectError(failure.message, codeOf(failure)),
})
