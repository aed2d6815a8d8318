import * as ErrorMessage from "@platform/shared/ErrorMessage"
import * as RetryBudget from "@platform/shared/resilience/RetryBudget"
import { Cause, Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import {
  AttemptTimedOut,
  codeOf,
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  InvalidName,
  type InvokeFailure,
  isRetryable,
  ReplayedFailure,
} from "./Api.ts"
import { GatewayConfig } from "./GatewayConfig.ts"
import { IdempotencyRepo, type StoredOutcome } from "./IdempotencyRepo.ts"
import { InvocationsRepo } from "./InvocationsRepo.ts"
import { LangClient } from "./LangClient.ts"
import { Resilience } from "./Resilience.ts"

export const DEFAULT_NAME = "World"

/** varchar(255) in `invocations` (and in lang's `executions`). */
const MAX_NAME_LENGTH = 255

/** How long a call waits for another one holding the same `Idempotency-Key`. */
const IN_FLIGHT_WAIT = Duration.seconds(5)

/**
 * InvokeCustom: lang's `POST /invoke` behind the circuit breaker (around each attempt), with a
 * per-attempt timeout and one retry when the failure is retryable and the retry budget gives a
 * token. Every outcome, success or failure, is written to `invocations` before the answer.
 * With an `Idempotency-Key`, a repeated call within its lifetime answers the stored outcome
 * without calling lang again.
 */
export class Gateway extends Context.Service<
  Gateway,
  {
    readonly invoke: (name: string, idempotencyKey?: string | undefined) => Effect.Effect<string, InvokeFailure>
  }
>()("gateway/Gateway") {
  static readonly layer = Layer.effect(
    Gateway,
    Effect.gen(function* () {
      const config = yield* GatewayConfig
      const lang = yield* LangClient
      const { breaker, budget } = yield* Resilience
      const invocations = yield* InvocationsRepo
      const keys = yield* IdempotencyRepo
      const policy = RetryBudget.retrySchedule(budget, { isRetryable, maxRetries: 1 })
      const attemptTimeout = Duration.format(config.attemptTimeout)

      const attempt = (name: string) =>
        lang.invoke(name).pipe(
          Effect.timeoutOrElse({
            duration: config.attemptTimeout,
            orElse: () =>
              Effect.fail(
                new AttemptTimedOut({ message: `custom-lang-service did not answer within ${attemptTimeout}` }),
              ),
          }),
        )

      const record = (name: string, result_message: string, success: boolean) =>
        invocations
          .insert({ name, result_message, success })
          .pipe(
            Effect.catchCause((cause) =>
              Effect.logError(`could not record the invocation: ${ErrorMessage.describe(Cause.squash(cause))}`),
            ),
          )

      /**
       * One InvokeCustom, recorded whatever its outcome. Each attempt is a span of its own (a
       * breaker rejection is an event on it); a retry the budget grants or refuses is an event
       * on the call's span, between them.
       */
      const call = (name: string) => {
        let attempts = 0
        const attemptThroughBreaker = Effect.suspend(() => {
          attempts += 1
          return breaker
            .execute(attempt(name))
            .pipe(
              Effect.withSpan(
                "Gateway.attempt",
                { attributes: { "gateway.attempt": attempts } },
                { captureStackTrace: false },
              ),
            )
        })
        return attemptThroughBreaker.pipe(
          Effect.retry(policy),
          Effect.tapError((failure) =>
            Effect.annotateCurrentSpan({ "gateway.failure": failure._tag }).pipe(
              Effect.andThen(record(name, failure.message, false)),
            ),
          ),
          Effect.tap((message) => record(name, message, true)),
          Effect.onInterrupt(() => record(name, "the call was cancelled or its deadline passed", false)),
        )
      }

      const replay = (stored: StoredOutcome): Effect.Effect<string, ReplayedFailure> =>
        stored.success === true
          ? Effect.succeed(stored.message ?? "")
          : Effect.fail(new ReplayedFailure({ code: stored.code ?? 2, message: stored.message ?? "" }))

      const ignoreStorage = <A>(effect: Effect.Effect<A, unknown>, fallback: A) =>
        effect.pipe(
          Effect.catch((error) =>
            Effect.as(Effect.logWarning(`idempotency store unavailable: ${ErrorMessage.describe(error)}`), fallback),
          ),
        )

      /** The stored outcome once the call holding the key has finished, or none after a wait. */
      const awaitOther = (key: string, name: string) =>
        Effect.gen(function* () {
          const found = yield* ignoreStorage(keys.find(key, config.idempotencyTtl), Option.none<StoredOutcome>())
          if (Option.isSome(found) && found.value.name !== name) {
            return yield* new IdempotencyKeyReused({ message: "this Idempotency-Key was used for another name" })
          }
          if (Option.isSome(found) && found.value.done) return Option.some(found.value)
          return Option.none<StoredOutcome>()
        }).pipe(
          Effect.repeat({
            schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: IN_FLIGHT_WAIT })),
            until: Option.isSome,
          }),
        )

      const withKey = (name: string, key: string) =>
        Effect.gen(function* () {
          const found = yield* ignoreStorage(keys.find(key, config.idempotencyTtl), Option.none<StoredOutcome>())
          if (Option.isSome(found)) {
            if (found.value.name !== name) {
              return yield* new IdempotencyKeyReused({ message: "this Idempotency-Key was used for another name" })
            }
            if (found.value.done) return yield* replay(found.value)
          }
          const owner = Option.isNone(found) && (yield* ignoreStorage(keys.reserve(key, name), true))
          if (!owner) {
            const finished = yield* awaitOther(key, name)
            if (Option.isNone(finished)) {
              return yield* new IdempotencyKeyInFlight({ message: "a call with this Idempotency-Key is in progress" })
            }
            return yield* replay(finished.value)
          }
          return yield* call(name).pipe(
            Effect.onExit((exit) =>
              exit._tag === "Success"
                ? ignoreStorage(keys.complete(key, { success: true, code: null, message: exit.value }), undefined)
                : Cause.hasInterruptsOnly(exit.cause)
                  ? ignoreStorage(keys.release(key), undefined)
                  : Effect.flatMap(Effect.succeed(Cause.findErrorOption(exit.cause)), (failure) =>
                      Option.isSome(failure)
                        ? ignoreStorage(
                            keys.complete(key, {
                              success: false,
                              code: codeOf(failure.value),
                              message: failure.value.message,
                            }),
                            undefined,
                          )
                        : ignoreStorage(keys.release(key), undefined),
                    ),
            ),
          )
        })

      const invoke = Effect.fn("Gateway.invoke")(function* (requested: string, idempotencyKey?: string) {
        const name = requested === "" ? DEFAULT_NAME : requested
        if (name.includes("\u0000") || [...name].length > MAX_NAME_LENGTH) {
          return yield* new InvalidName({ message: `name must be at most ${MAX_NAME_LENGTH} characters, without NUL` })
        }
        yield* Effect.annotateCurrentSpan({ "gateway.name": name })
        return yield* idempotencyKey === undefined || idempotencyKey === "" ? call(name) : withKey(name, idempotencyKey)
      })

      return Gateway.of({ invoke })
    }),
  )
}
