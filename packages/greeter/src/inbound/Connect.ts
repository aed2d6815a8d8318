import { Code, ConnectError } from "@connectrpc/connect"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import * as Connect from "@platform/shared/Connect"
import { Effect } from "effect"
import type { CallerFailed } from "./CallerClient.ts"
import { Greeter, type InvalidName } from "./Greeter.ts"

/** `greeter.v1.GreeterService` over Connect, gRPC and gRPC-Web. */
export const GreeterConnect = Connect.layer({
  service: GreeterService,
  handlers: {
    greet: (request) => Effect.flatMap(Greeter, (greeter) => greeter.greet(request.name)),
  },
  toConnectError: (error: CallerFailed | InvalidName) =>
    new ConnectError(error.message, error._tag === "InvalidName" ? Code.InvalidArgument : error.code),
})
