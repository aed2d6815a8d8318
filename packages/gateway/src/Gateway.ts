import { DEFAULT_NAME, problem } from "@platform/contracts/Name"
import * as RetryAfter from "@platform/resilience/RetryAfter"
import * as RetryBudget from "@platform/resilience/RetryBudget"
import * as BestEffort from "@platform/shared/BestEffort"
import * as Deadline from "@platform/shared/Deadline"
import { Context, Duration, Effect, Fiber, Layer, Schedule } from "effect"
import { GatewayConfig } from "./Config.ts"
import { LangClient } from "./clients/LangClient.ts"
import {
  type AttemptFailure,
  AttemptTimedOut,
  type BreakerRejected,
  type BulkheadRejected,
  type DeadlineExceeded,
  InvalidName,
  type InvokeFailure,
  isRetryable,
} from "./errors.ts"
import { InvocationsRepo } from "./persistence/InvocationsRepo.ts"
import { Resilience } from "./Resilience.ts"

/**
 * InvokeCustom: lang's `POST /invoke` behind the circuit breaker (around each attempt) and a
 * bulkhead (at most so many attempts running and waiting, the rest refused at once), with a
 * per-attempt timeout and one retry when the failure is retryable and the retry budget gives a
 * token. Every outcome, success or failure (a cancelled call too), is written to `invocations`
 * before the answer.
 */
export class Gateway extends Context.Service<
  Gateway,
  { readonly invoke: (name: string) => Effect.Effect<string, InvokeFailure> }
>()("gateway/Gateway") {
  static readonly layer = Layer.effect(
    Gateway,
    Effect.gen(function* () {
      const config = yield* GatewayConfig
      const lang = yield* LangClient
      const { breaker, budget, bulkhead } = yield* Resilience
      const invocations = yield* InvocationsRepo
      // The contract's policy: one retry of a retryable failure, if the budget gives a token.
      const policy = Schedule.recurs(1).pipe(
        Schedule.while(
          ({ input }: { readonly input: AttemptFailure | BreakerRejected | BulkheadRejected | DeadlineExceeded }) =>
            isRetryable(input),
        ),
        // lang's (or a proxy's) Retry-After is the earliest retry; longer than an attempt: none.
        RetryAfter.honour(
          (failure: AttemptFailure | BreakerRejected | BulkheadRejected | DeadlineExceeded) =>
            failure._tag === "LangRejected" ? failure.retryAfterMs : undefined,
          { maxMs: Duration.toMillis(config.attemptTimeout) },
        ),
        RetryBudget.gate(budget),
      )
      const timedOut = new AttemptTimedOut({
        message: `custom-lang-service did not answer within ${Duration.format(config.attemptTimeout)}`,
      })

      const record = (name: string, result_message: string, success: boolean) => {
        const row = { name, result_message, success }
        return invocations.insert(row).pipe(BestEffort.write("the invocation", row))
      }

      // Attempts outlive the calls that started them (until the service stops).
      const attempts = yield* Effect.scope

      /**
       * One attempt, through the breaker, in a span of its own (a rejection is an event on it).
       * It runs detached from its caller, to its own per-attempt timeout: a client that gives up
       * (a short `connect-timeout-ms`) gets `deadline_exceeded` at its deadline, while the breaker
       * still counts what lang did. Cancelled with the client, every attempt would count as a
       * success (gobreaker's rule for a cancel), and a slow lang behind impatient clients would
       * never open the breaker.
       */
      const attemptMs = Duration.toMillis(config.attemptTimeout)
      const send = (name: string, number: number) =>
        lang.invoke(name).pipe(
          // lang is told the per-attempt timeout, or what is left of the client's deadline if sooner.
          Deadline.within(attemptMs),
          Effect.timeoutOrElse({ duration: config.attemptTimeout, orElse: () => Effect.fail(timedOut) }),
          breaker.execute,
          // Outside the breaker: a full bulkhead says nothing about lang, and is not a failure of it.
          bulkhead.execute,
          Effect.withSpan(
            "Gateway.attempt",
            { attributes: { "gateway.attempt": number } },
            { captureStackTrace: false },
          ),
          Effect.forkIn(attempts),
          Effect.flatMap(Fiber.join),
        )
      // With nothing left of the client's deadline, an attempt (a retry, say) is not sent at all.
      const attempt = (name: string, number: number) => Effect.andThen(Deadline.outbound(undefined), send(name, number))

      const invoke = Effect.fn("Gateway.invoke")(function* (requested: string) {
        const name = requested === "" ? DEFAULT_NAME : requested
        const invalid = problem(name)
        if (invalid !== undefined) return yield* new InvalidName({ message: `name ${invalid}` })
        yield* Effect.annotateCurrentSpan({ "gateway.name": name })
        // A request, not a retry: what a ratio budget's share is of.
        yield* budget.deposit
        let attempts = 0
        return yield* Effect.suspend(() => attempt(name, ++attempts)).pipe(
          Effect.retry(policy),
          Effect.tapError((failure) =>
            Effect.andThen(
              Effect.annotateCurrentSpan({ "gateway.failure": failure._tag }),
              record(name, failure.message, false),
            ),
          ),
          Effect.tap((message) => record(name, message, true)),
          Effect.onInterrupt(() => record(name, "the call was cancelled or its deadline passed", false)),
        )
      })

      return Gateway.of({ invoke })
    }),
  )
}
