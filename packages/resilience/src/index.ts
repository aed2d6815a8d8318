/**
 * Resilience primitives for Effect: a circuit breaker with sony/gobreaker's semantics, a retry
 * budget that gates any retry `Schedule`, the token bucket both are built on, and observers that
 * publish them as metrics, logs and span events.
 */
export * as BreakerMetrics from "./BreakerMetrics.ts"
export * as BudgetMetrics from "./BudgetMetrics.ts"
export * as CircuitBreaker from "./CircuitBreaker.ts"
export * as RetryBudget from "./RetryBudget.ts"
export * as RetryWindow from "./RetryWindow.ts"
export * as TokenBucket from "./TokenBucket.ts"
