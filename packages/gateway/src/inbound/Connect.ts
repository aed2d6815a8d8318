import { codeOfLangStatus, invokeCodes } from "@platform/contracts/GatewayApi"
import { DEFAULT_NAME } from "@platform/contracts/Name"
import type { RpcCode } from "@platform/contracts/RpcCode"
import { GatewayService } from "@platform/proto-compat/gateway/v1"
import * as Connect from "@platform/shared/Connect"
import { Effect } from "effect"
import type { InvokeFailure } from "../errors.ts"
import { Gateway } from "../Gateway.ts"
import { Idempotency, type IdempotencyFailure } from "./Idempotency.ts"

/** The contract's code for each way InvokeCustom fails. */
export const codeOf = (failure: InvokeFailure | IdempotencyFailure): RpcCode => {
  switch (failure._tag) {
    case "BreakerRejected":
      return invokeCodes.breakerRejected
    case "BulkheadRejected":
      return invokeCodes.bulkheadRejected
    case "DeadlineExceeded":
    case "AttemptTimedOut":
      return invokeCodes.attemptTimedOut
    case "LangRejected":
      return codeOfLangStatus(failure.status)
    case "LangFailed":
      return invokeCodes.langFailed
    case "InvalidName":
      return invokeCodes.invalidName
    case "IdempotencyKeyReused":
      return invokeCodes.idempotencyKeyReused
    case "IdempotencyKeyInFlight":
      return invokeCodes.idempotencyKeyInFlight
    case "ReplayedFailure":
      return failure.code
  }
}

const answer = (failure: InvokeFailure) => ({ code: codeOf(failure), message: failure.message })

/** `gateway.v1.GatewayService` over Connect, gRPC and gRPC-Web; `Idempotency-Key` is honoured. */
export const GatewayConnect = Connect.layer({
  service: GatewayService,
  handlers: {
    invokeCustom: (request, context) =>
      Effect.gen(function* () {
        const gateway = yield* Gateway
        const presented = context.requestHeader.get("idempotency-key") ?? ""
        // A key is its user's: another user's same key neither replays nor blocks this one. The
        // edge's forward-auth sets X-User-Id (a client's own is removed before it).
        const owner = context.requestHeader.get("x-user-id") ?? ""
        const key = presented === "" ? "" : owner === "" ? presented : `${owner}/${presented}`
        const call = gateway.invoke(request.name)
        const message =
          key === ""
            ? yield* call
            : yield* Effect.flatMap(Idempotency, (keys) =>
                keys.run(key, request.name === "" ? DEFAULT_NAME : request.name, call, answer),
              )
        return { message }
      }),
  },
  toError: (failure) => ({ code: codeOf(failure), message: failure.message }),
})
