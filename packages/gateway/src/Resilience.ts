import type { ResilienceSnapshot } from "@platform/contracts/GatewayApi"
import * as BreakerMetrics from "@platform/resilience/BreakerMetrics"
import * as BudgetMetrics from "@platform/resilience/BudgetMetrics"
import * as Bulkhead from "@platform/resilience/Bulkhead"
import * as BulkheadMetrics from "@platform/resilience/BulkheadMetrics"
import * as CircuitBreaker from "@platform/resilience/CircuitBreaker"
import * as RetryBudget from "@platform/resilience/RetryBudget"
import * as Metrics from "@platform/shared/Metrics"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { GatewayConfig } from "./Config.ts"
import type { AttemptFailure } from "./errors.ts"

/**
 * The gateway's breaker, retry budget and bulkhead, one of each for the process: every call to
 * lang goes through the same bulkhead and breaker and draws retries from the same budget. Both are published as
 * metrics, logs and span events for as long as the service runs.
 */
export class Resilience extends Context.Service<
  Resilience,
  {
    readonly breaker: CircuitBreaker.CircuitBreaker<AttemptFailure>
    readonly budget: RetryBudget.RetryBudget
    readonly bulkhead: Bulkhead.Bulkhead
    readonly snapshot: Effect.Effect<ResilienceSnapshot>
  }
>()("gateway/Resilience") {
  static readonly layer = Layer.effect(
    Resilience,
    Effect.gen(function* () {
      const config = yield* GatewayConfig
      const trips = config.breakerConsecutiveFailures
      const breaker = yield* CircuitBreaker.make<AttemptFailure>({
        name: "custom-lang-service",
        maxRequests: config.breakerMaxRequests,
        interval: config.breakerInterval,
        timeout: config.breakerTimeout,
        readyToTrip: (counts) => counts.consecutiveFailures >= trips,
      })
      const budget = yield* RetryBudget.fromPolicy(
        config.budgetMode === "bucket"
          ? { mode: "bucket", capacity: config.budgetCapacity, refillPerSecond: config.budgetRefillPerSecond }
          : {
              mode: "ratio",
              ratio: config.budgetRatio,
              minPerSecond: config.budgetMinPerSecond,
              windowMs: config.budgetWindowMs,
            },
        "custom-lang-service",
      )
      const bulkhead = yield* Bulkhead.make({
        name: "custom-lang-service",
        maxConcurrent: config.langMaxConcurrent,
        maxQueued: config.langMaxQueued,
      })
      yield* BreakerMetrics.observe(breaker)
      yield* BulkheadMetrics.observe(bulkhead)
      yield* BudgetMetrics.observe(budget)
      const snapshot = Effect.gen(function* () {
        const retryAfter = yield* breaker.retryAfter
        return {
          breaker: {
            name: breaker.name,
            state: yield* breaker.state,
            counts: yield* breaker.counts,
            maxRequests: config.breakerMaxRequests,
            intervalMs: Duration.toMillis(config.breakerInterval),
            timeoutMs: Duration.toMillis(config.breakerTimeout),
            consecutiveFailuresToTrip: trips,
            ...(Option.isSome(retryAfter) ? { halfOpenInMs: Math.ceil(Duration.toMillis(retryAfter.value)) } : {}),
          },
          budget: {
            mode: budget.policy.mode,
            tokens: yield* budget.tokens,
            capacity: budget.capacity,
            refillPerSecond: budget.refillPerSecond,
            ...(budget.policy.mode === "ratio" ? { ratio: budget.policy.ratio, windowMs: budget.policy.windowMs } : {}),
          },
          bulkhead: {
            inFlight: yield* bulkhead.inFlight,
            queued: yield* bulkhead.queued,
            maxConcurrent: bulkhead.maxConcurrent,
            maxQueued: bulkhead.maxQueued,
          },
        }
      })
      // Time alone opens, half-opens and refills: bring the gauges up to date for each scrape.
      yield* Metrics.onScrape(Effect.asVoid(Effect.all([breaker.state, budget.tokens])))
      return Resilience.of({ breaker, budget, bulkhead, snapshot })
    }),
  )
}
