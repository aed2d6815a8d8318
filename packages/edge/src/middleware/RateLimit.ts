import * as TokenBucket from "@platform/resilience/TokenBucket"
import { Clock, Effect } from "effect"
import { type Middleware, plainText, respond } from "../Exchange.ts"

/**
 * Traefik's rate limit: a token bucket per client IP, `average` requests a second on average
 * with bursts of `burst`. Buckets that have refilled completely carry no state and are dropped,
 * so memory follows the clients that are actually busy.
 */
export class RateLimiter {
  private readonly limits: TokenBucket.Limits
  private readonly buckets = new Map<string, TokenBucket.Bucket>()
  private sweptAt = 0

  constructor(average: number, burst: number) {
    this.limits = { capacity: burst, refillPerSecond: average }
  }

  allow(client: string, now: number): boolean {
    const [allowed, bucket] = TokenBucket.take(
      this.limits,
      this.buckets.get(client) ?? TokenBucket.full(this.limits, now),
      now,
    )
    this.buckets.set(client, bucket)
    if (now - this.sweptAt > 10_000) this.sweep(now)
    return allowed
  }

  private sweep(now: number) {
    this.sweptAt = now
    for (const [client, bucket] of this.buckets) {
      if (TokenBucket.refill(this.limits, bucket, now).tokens >= this.limits.capacity) this.buckets.delete(client)
    }
  }
}

/** The middleware: per client IP (behind a trusted proxy, the one it names), `average` a second with bursts of `burst`; beyond, a 429. */
export const rateLimit = (average: number, burst: number): Middleware => {
  const limiter = new RateLimiter(average, burst)
  return (next) => (exchange) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      limiter.allow(exchange.client, now) ? next(exchange) : respond(exchange, 429, plainText, "Too Many Requests"),
    )
}
