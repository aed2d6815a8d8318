import * as RpcCode from "@platform/contracts/RpcCode"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { Cause, Context, Duration, Effect, Exit, Layer, Option, Schedule, Schema } from "effect"
import { GatewayConfig } from "../Config.ts"
import { IdempotencyRepo, type StoredOutcome } from "../persistence/IdempotencyRepo.ts"

/** An `Idempotency-Key` was used before for another name. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  message: Schema.String,
}) {}

/** Another call with the same `Idempotency-Key` is still running. */
export class IdempotencyKeyInFlight extends Schema.TaggedError<IdempotencyKeyInFlight>()("IdempotencyKeyInFlight", {
  message: Schema.String,
}) {}

/** The stored failure of an earlier call with the same `Idempotency-Key`, replayed as it was answered. */
export class ReplayedFailure extends Schema.TaggedError<ReplayedFailure>()("ReplayedFailure", {
  code: RpcCode.RpcCode,
  message: Schema.String,
}) {}

export type IdempotencyFailure = IdempotencyKeyReused | IdempotencyKeyInFlight | ReplayedFailure

/** How long a call waits for another one holding the same `Idempotency-Key`. */
const IN_FLIGHT_WAIT = Duration.seconds(5)
const POLL = Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: IN_FLIGHT_WAIT }))

const reused = new IdempotencyKeyReused({ message: "this Idempotency-Key was used for another name" })
const inFlight = new IdempotencyKeyInFlight({ message: "a call with this Idempotency-Key is in progress" })

/**
 * `Idempotency-Key` on InvokeCustom, a wire concern kept out of the domain: the first call with
 * a key runs and its answer (success, or the code and message it failed with) is stored; a
 * repeat within the key's lifetime answers the stored outcome without running again; a repeat
 * while the first still runs waits for it (up to 5 s, then `aborted`); the same key for
 * another name is refused. A call that was cancelled, or died, gives its key up. When the
 * store cannot be reached the call runs as if it had no key (and says so in the log).
 */
export class Idempotency extends Context.Service<
  Idempotency,
  {
    /** Runs `call` once per `key`; `answer` says what a failure of it answers (code and message). */
    readonly run: <E>(
      key: string,
      name: string,
      call: Effect.Effect<string, E>,
      answer: (error: E) => { readonly code: RpcCode.RpcCode; readonly message: string },
    ) => Effect.Effect<string, E | IdempotencyFailure>
  }
>()("gateway/Idempotency") {
  static readonly layer = Layer.effect(
    Idempotency,
    Effect.gen(function* () {
      const config = yield* GatewayConfig
      const keys = yield* IdempotencyRepo
      // Keys nobody presents again expire too: the table holds one TTL of keys, not all of them.
      yield* keys.purge(config.idempotencyTtl).pipe(
        Effect.catchCause((cause) => Effect.logWarning("could not purge expired idempotency keys", cause)),
        Effect.repeat(Schedule.spaced(Duration.minutes(10))),
        Effect.forkScoped,
      )

      /** A store failure does not fail the call: the call runs, the store is skipped. */
      const orElse = <A>(effect: Effect.Effect<A, unknown>, fallback: A) =>
        effect.pipe(
          Effect.catch((error) =>
            Effect.as(Effect.logWarning(`idempotency store unavailable: ${ErrorMessage.describe(error)}`), fallback),
          ),
        )

      const find = (key: string) => orElse(keys.find(key, config.idempotencyTtl), Option.none<StoredOutcome>())

      const replay = (stored: StoredOutcome): Effect.Effect<string, ReplayedFailure> =>
        stored.success === true
          ? Effect.succeed(stored.message ?? "")
          : Effect.fail(
              new ReplayedFailure({
                // A failure is always stored with its code; a record without one is `unknown`.
                code: stored.code === null ? "unknown" : RpcCode.fromNumber(stored.code),
                message: stored.message ?? "",
              }),
            )

      /** The outcome once the call holding the key has finished, or none after the wait. */
      const awaitOther = (key: string, name: string) =>
        Effect.flatMap(find(key), (found) =>
          Option.isSome(found) && found.value.name !== name
            ? Effect.fail(reused)
            : Effect.succeed(Option.filter(found, (outcome) => outcome.done)),
        ).pipe(Effect.repeat({ schedule: POLL, until: Option.isSome }))

      const run = <E>(
        key: string,
        name: string,
        call: Effect.Effect<string, E>,
        answer: (error: E) => { readonly code: RpcCode.RpcCode; readonly message: string },
      ): Effect.Effect<string, E | IdempotencyFailure> =>
        Effect.gen(function* () {
          const found = yield* find(key)
          if (Option.isSome(found)) {
            if (found.value.name !== name) return yield* reused
            if (found.value.done) return yield* replay(found.value)
          }
          const owner = Option.isNone(found) && (yield* orElse(keys.reserve(key, name), true))
          if (!owner) {
            const finished = yield* awaitOther(key, name)
            return yield* Option.isNone(finished) ? Effect.fail(inFlight) : replay(finished.value)
          }
          return yield* call.pipe(
            Effect.onExit((exit) => {
              if (Exit.isSuccess(exit)) {
                return orElse(keys.complete(key, { success: true, code: null, message: exit.value }), undefined)
              }
              const failure = Cause.findErrorOption(exit.cause)
              if (Option.isNone(failure)) return orElse(keys.release(key), undefined)
              const { code, message } = answer(failure.value)
              return orElse(keys.complete(key, { success: false, code: RpcCode.numberOf[code], message }), undefined)
            }),
          )
        })

      return Idempotency.of({ run })
    }),
  )
}
