import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { Cause, Context, Effect, Layer } from "effect"
import {
  Conflict,
  Forbidden,
  NotFound,
  RateLimited,
  type Rejection,
  rejectionStatus,
  Unauthorized,
  Unavailable,
} from "./Api.ts"
import { ExecutionsRepo } from "./ExecutionsRepo.ts"

/** The names that make lang answer with an error, and the error (a table in the contract). */
const rejections: Record<string, () => Rejection> = {
  unauthorized: () => new Unauthorized(),
  forbidden: () => new Forbidden(),
  notfound: () => new NotFound(),
  conflict: () => new Conflict(),
  ratelimit: () => new RateLimited(),
  unavailable: () => new Unavailable(),
}

export const DEFAULT_NAME = "World"

export const greeting = (name: string) => `Hello ${name} from custom-lang-service!`

/**
 * The "custom language" service: greets by name, or answers with the error a special name
 * asks for, so that callers can exercise their error handling. Every call is recorded in
 * `executions` before the answer; a recording failure is logged and the answer still goes
 * out, as the original does.
 */
export class Lang extends Context.Service<
  Lang,
  { readonly invoke: (name: string | null | undefined) => Effect.Effect<string, Rejection> }
>()("lang/Lang") {
  static readonly layer = Layer.effect(
    Lang,
    Effect.gen(function* () {
      const executions = yield* ExecutionsRepo
      const record = (name: string, result_message: string | null, status_code: number) =>
        executions
          .insert({ name, result_message, status_code })
          .pipe(
            Effect.catchCause((cause) =>
              Effect.logError(`could not record the execution: ${ErrorMessage.describe(Cause.squash(cause))}`),
            ),
          )
      const invoke = Effect.fn("Lang.invoke")(function* (requested: string | null | undefined) {
        const name = requested === undefined || requested === null || requested === "" ? DEFAULT_NAME : requested
        const reject = Object.hasOwn(rejections, name) ? rejections[name] : undefined
        if (reject !== undefined) {
          const rejection = reject()
          yield* record(name, null, rejectionStatus[rejection._tag])
          return yield* Effect.fail(rejection)
        }
        const message = greeting(name)
        yield* record(name, message, 200)
        return message
      })
      return Lang.of({ invoke })
    }),
  )
}
