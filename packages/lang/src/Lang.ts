import { greeting, rejectionStatus, rejections } from "@platform/contracts/LangApi"
import { DEFAULT_NAME } from "@platform/contracts/Name"
import * as BestEffort from "@platform/shared/BestEffort"
import { Context, Effect, Layer } from "effect"
import type { Rejection } from "./errors.ts"
import { ExecutionsRepo } from "./persistence/ExecutionsRepo.ts"

/**
 * The "custom language" service: greets by name, or answers with the error a special name
 * asks for (the contract's table), so that callers can exercise their error handling. Every
 * call is recorded in `executions` before the answer; a recording failure is logged with the
 * row and the answer still goes out, as the original does.
 */
export class Lang extends Context.Service<
  Lang,
  { readonly invoke: (name: string | null | undefined) => Effect.Effect<string, Rejection> }
>()("lang/Lang") {
  static readonly layer = Layer.effect(
    Lang,
    Effect.gen(function* () {
      const executions = yield* ExecutionsRepo
      const record = (name: string, result_message: string | null, status_code: number) => {
        const row = { name, result_message, status_code }
        return executions.insert(row).pipe(BestEffort.write("the execution", row))
      }
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
