import { codeOf } from "@platform/contracts/CallerRpcs"
import { CallerService } from "@platform/proto-compat/caller/v1"
import * as Connect from "@platform/shared/Connect"
import { Effect } from "effect"
import { Caller } from "../Caller.ts"

/** `caller.v1.CallerService` over Connect, gRPC and gRPC-Web, with the contract's codes. */
export const CallerConnect = Connect.layer({
  service: CallerService,
  handlers: {
    callExternal: (request) => Effect.flatMap(Caller, (caller) => caller.callExternal(request.url)),
  },
  toError: (error) => ({ code: codeOf[error._tag], message: error.message }),
})
