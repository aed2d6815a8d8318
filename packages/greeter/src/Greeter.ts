import { DEFAULT_NAME, problem } from "@platform/contracts/Name"
import * as BestEffort from "@platform/shared/BestEffort"
import * as Deadline from "@platform/shared/Deadline"
import { Context, Duration, Effect, Layer } from "effect"
import { GreeterConfig } from "./Config.ts"
import { CallerClient } from "./clients/CallerClient.ts"
import { CallerFailed, CallerTimedOut, InvalidName } from "./errors.ts"
import { GreetingsRepo } from "./persistence/GreetingsRepo.ts"

export const greeting = (name: string) => `Hello ${name} from greeter-service!`

export interface Greeted {
  readonly message: string
  readonly externalStatus: number
  readonly externalBodyLength: number
}

/**
 * Greets by name: asks caller to fetch `EXTERNAL_API_URL` within the contract's 2 s deadline,
 * records the greeting in `greetings` before answering (a recording failure is logged with the
 * row and the answer still goes out, as the original does), and answers with caller's status
 * and length. When caller fails, the failure says how, so that its code can pass through.
 */
export class Greeter extends Context.Service<
  Greeter,
  { readonly greet: (name: string) => Effect.Effect<Greeted, CallerFailed | InvalidName> }
>()("greeter/Greeter") {
  static readonly layer = Layer.effect(
    Greeter,
    Effect.gen(function* () {
      const config = yield* GreeterConfig
      const caller = yield* CallerClient
      const greetings = yield* GreetingsRepo
      const timedOut = new CallerFailed({ reason: new CallerTimedOut({ message: "caller did not answer in time" }) })

      const greet = Effect.fn("Greeter.greet")(function* (requested: string) {
        const name = requested === "" ? DEFAULT_NAME : requested
        const invalid = problem(name)
        if (invalid !== undefined) return yield* new InvalidName({ message: `name ${invalid}` })
        // The contract's 2 s, or less when the client's own deadline is sooner: caller is told.
        const external = yield* caller
          .callExternal(config.externalApiUrl)
          .pipe(
            Deadline.within(Duration.toMillis(config.callerDeadline)),
            Effect.timeoutOrElse({ duration: config.callerDeadline, orElse: () => Effect.fail(timedOut) }),
          )
        const message = greeting(name)
        const row = { name, message, external_status: external.statusCode }
        yield* greetings.insert(row).pipe(BestEffort.write("the greeting", row))
        return { message, externalStatus: external.statusCode, externalBodyLength: external.bodyLength }
      })

      return Greeter.of({ greet })
    }),
  )
}
