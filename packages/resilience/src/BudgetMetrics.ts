import { Effect, Metric, type Scope } from "effect"
import * as SpanEvent from "./internal/SpanEvent.ts"
import type { RetryBudget } from "./RetryBudget.ts"

/**
 * A retry budget as Prometheus and the trace see it, labelled with its name: the tokens left in
 * `retry_budget_tokens` (as of the last use or `tokens` read), the retries it granted and
 * refused in `retry_budget_retries_total` and `retry_budget_refused_total`, each also an event
 * (`retry`, `retry.refused`) on the span of the call that retries.
 */

export const tokens = Metric.gauge("retry_budget_tokens", {
  description: "Tokens left in a retry budget (each retry takes one)",
})

export const retries = Metric.counter("retry_budget_retries_total", {
  description: "Retries a retry budget granted",
  incremental: true,
})

export const refused = Metric.counter("retry_budget_refused_total", {
  description: "Retries a retry budget refused because it was empty",
  incremental: true,
})

/** Publishes `budget` for as long as the calling scope is open. */
export const observe = (budget: RetryBudget): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const label = { budget: budget.name }
    const gauge = Metric.withAttributes(tokens, label)
    const granted = Metric.withAttributes(retries, label)
    const denied = Metric.withAttributes(refused, label)
    // Exported from the start, at zero: `increase()` cannot see a counter's first increment.
    yield* Metric.update(granted, 0)
    yield* Metric.update(denied, 0)
    yield* budget.observe({
      onTokens: (left) => Metric.update(gauge, left),
      onGranted: (attempt) =>
        Effect.andThen(
          Metric.update(granted, 1),
          SpanEvent.add("retry", { "retry.attempt": attempt, "retry.budget": budget.name }),
        ),
      onRefused: () =>
        Effect.andThen(
          Metric.update(denied, 1),
          SpanEvent.add("retry.refused", { reason: "budget exhausted", "retry.budget": budget.name }),
        ),
    })
    yield* budget.tokens
  })
