import { greetCodes } from "@platform/contracts/GreeterCodes"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import * as Connect from "@platform/shared/Connect"
import { Effect } from "effect"
import type { CallerFailed, InvalidName } from "../errors.ts"
import { Greeter } from "../Greeter.ts"

/** The contract's code for each way Greet fails: caller's own code passes through unchanged. */
export const codeOf = (error: CallerFailed | InvalidName) => {
  if (error._tag === "InvalidName") return greetCodes.invalidName
  switch (error.reason._tag) {
    case "CallerRejected":
      return error.reason.code
    case "CallerTimedOut":
      return greetCodes.callerTimedOut
    case "CallerUnreachable":
      return greetCodes.callerUnreachable
  }
}

/** `greeter.v1.GreeterService` over Connect, gRPC and gRPC-Web. */
export const GreeterConnect = Connect.layer({
  service: GreeterService,
  handlers: {
    greet: (request) => Effect.flatMap(Greeter, (greeter) => greeter.greet(request.name)),
  },
  toError: (error) => ({ code: codeOf(error), message: error.message }),
})
