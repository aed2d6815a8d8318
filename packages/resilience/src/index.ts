/**
 * Resilience primitives for Effect: a circuit breaker with sony/gobreaker's semantics, retry
 * budgets (a token bucket or a share of traffic) that gate any retry `Schedule`, a bulkhead with a
 * bounded queue, the pure arithmetic of the budgets, and observers that publish them as metrics,
 * logs and span events.
 */
export * as BreakerMetrics from "./BreakerMetrics.ts"
export * as BudgetMetrics from "./BudgetMetrics.ts"
export * as Bulkhead from "./Bulkhead.ts"
export * as BulkheadMetrics from "./BulkheadMetrics.ts"
export * as CircuitBreaker from "./CircuitBreaker.ts"
export * as RetryAfter from "./RetryAfter.ts"
export * as RetryBudget from "./RetryBudget.ts"
export * as RetryWindow from "./RetryWindow.ts"
export * as TokenBucket from "./TokenBucket.ts"
