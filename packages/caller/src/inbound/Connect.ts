import { ConnectError } from "@connectrpc/connect"
import { CallerService } from "@platform/proto-compat/caller/v1"
import * as Connect from "@platform/shared/Connect"
import { Effect } from "effect"
import { type CallError, codeOf } from "./Api.ts"
import { Caller } from "./Caller.ts"

export const toConnectError = (error: CallError): ConnectError => new ConnectError(error.message, codeOf(error))

/** `caller.v1.CallerService` over Connect, gRPC and gRPC-Web. */
export const CallerConnect = Connect.layer({
  service: CallerService,
  handlers: {
    callExternal: (request) => Effect.flatMap(Caller, (caller) => caller.callExternal(request.url)),
  },
  toConnectError,
})
