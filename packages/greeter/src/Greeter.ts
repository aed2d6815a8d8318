import { Code } from "@connectrpc/connect"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { Cause, Context, Effect, Layer, Schema } from "effect"
import { CallerClient, CallerFailed } from "./CallerClient.ts"
import { GreeterConfig } from "./GreeterConfig.ts"
import { GreetingsRepo } from "./GreetingsRepo.ts"

export const DEFAULT_NAME = "World"

/** varchar(255): a longer name could not be recorded. */
export const MAX_NAME_LENGTH = 255

export const greeting = (name: string) => `Hello ${name} from greeter-service!`

export interface Greeted {
  readonly message: string
  readonly externalStatus: number
  readonly externalBodyLength: number
}

/** The name cannot be recorded as given (varchar(255), no NUL): `invalid_argument`. */
export class InvalidName extends Schema.TaggedError<InvalidName>()("InvalidName", { message: Schema.String }) {}

const checkName = (name: string) =>
  name.includes("\u0000")
    ? Effect.fail(new InvalidName({ message: "name must not contain NUL characters" }))
    : [...name].length > MAX_NAME_LENGTH
      ? Effect.fail(new InvalidName({ message: `name must be at most ${MAX_NAME_LENGTH} characters long` }))
      : Effect.void

/**
 * Greets by name: asks caller to fetch `EXTERNAL_API_URL` within the contract's 2 s deadline,
 * records the greeting in `greetings` before answering (a recording failure is logged and the
 * answer still goes out, as the original does), and answers with caller's status and length.
 * caller's own failure codes pass through unchanged.
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

      const greet = Effect.fn("Greeter.greet")(function* (requested: string) {
        const name = requested === "" ? DEFAULT_NAME : requested
        yield* checkName(name)
        const external = yield* caller.callExternal(config.externalApiUrl).pipe(
          Effect.timeoutOrElse({
            duration: config.callerDeadline,
            orElse: () =>
              Effect.fail(new CallerFailed({ code: Code.DeadlineExceeded, message: "caller did not answer in time" })),
          }),
        )
        const message = greeting(name)
        yield* greetings
          .insert({ name, message, external_status: external.statusCode })
          .pipe(
            Effect.catchCause((cause) =>
              Effect.logError(`could not record the greeting: ${ErrorMessage.describe(Cause.squash(cause))}`),
            ),
          )
        return { message, externalStatus: external.statusCode, externalBodyLength: external.bodyLength }
      })

      return Greeter.of({ greet })
    }),
  )
}
