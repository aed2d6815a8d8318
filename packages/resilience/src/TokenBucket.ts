/**
 * The arithmetic of a token bucket, pure and shared: a level refilled continuously at
 * `refillPerSecond` from the time it was last looked at, never above `capacity`. The retry
 * budget and the edge's rate limiter are both this bucket, held in different places.
 */
export interface Limits {
  readonly capacity: number
  readonly refillPerSecond: number
}

export interface Bucket {
  readonly tokens: number
  /** Epoch milliseconds of the last refill. */
  readonly updatedAt: number
}

export const full = (limits: Limits, now: number): Bucket => ({ tokens: limits.capacity, updatedAt: now })

export const refill = (limits: Limits, bucket: Bucket, now: number): Bucket => ({
  tokens: Math.min(
    limits.capacity,
    bucket.tokens + (Math.max(0, now - bucket.updatedAt) * limits.refillPerSecond) / 1000,
  ),
  updatedAt: Math.max(now, bucket.updatedAt),
})

/** Takes one token if there is one: whether it did, and the bucket after. */
export const take = (limits: Limits, bucket: Bucket, now: number): readonly [boolean, Bucket] => {
  const next = refill(limits, bucket, now)
  return next.tokens >= 1 ? [true, { ...next, tokens: next.tokens - 1 }] : [false, next]
}
