import { Cause, Effect } from "effect"
import { describe } from "./ErrorMessage.ts"

/**
 * A row written before the answer that the answer does not depend on (the contract's
 * greetings, invocations and executions): when the write fails, the failure is logged with the
 * row, so that it can be rebuilt, and the answer still goes out, as the original services do.
 *
 * `repo.insert(row).pipe(BestEffort.write("the greeting", row))`
 */
export const write =
  (what: string, row: unknown) =>
  <E, R>(effect: Effect.Effect<void, E, R>): Effect.Effect<void, never, R> =>
    effect.pipe(
      Effect.catchCause((cause) =>
        Effect.logError(`could not record ${what}: ${describe(Cause.squash(cause))}`).pipe(
          Effect.annotateLogs({ row }),
        ),
      ),
    )
