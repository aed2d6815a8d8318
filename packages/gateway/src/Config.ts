import { httpUrl, invalid, oneOf, optionalString, positiveInt } from "@platform/shared/ServiceConfig"
import { Config, Context, Duration, Layer, Option } from "effect"

/** Every knob has the contract's value by default; tests and operators can shorten them. */
export interface Settings {
  readonly langBaseUrl: string
  readonly attemptTimeout: Duration.Duration
  readonly breakerMaxRequests: number
  readonly breakerInterval: Duration.Duration
  readonly breakerTimeout: Duration.Duration
  readonly breakerConsecutiveFailures: number
  /** `bucket` (the contract's token bucket) or `ratio` (a share of the traffic, as Linkerd). */
  readonly budgetMode: "bucket" | "ratio"
  readonly budgetCapacity: number
  readonly budgetRefillPerSecond: number
  readonly budgetRatio: number
  readonly budgetMinPerSecond: number
  readonly budgetWindowMs: number
  /** Calls to lang that may run at once, and wait beyond those, before one is refused at once. */
  readonly langMaxConcurrent: number
  readonly langMaxQueued: number
  /** How long an `Idempotency-Key`'s outcome is kept. */
  readonly idempotencyTtl: Duration.Duration
}

/** A count that may be zero (a retry budget of 0 turns retries off). */
const count = (name: string, fallback: number) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed(fallback),
        onSome: (raw) =>
          /^\d+(\.\d+)?$/.test(raw.trim())
            ? Config.succeed(Number(raw))
            : invalid(name, `expected a number >= 0, got ${JSON.stringify(raw)}`),
      }),
    ),
  )

const millis = (name: string, fallback: number) => positiveInt(name, fallback).pipe(Config.map(Duration.millis))

export const settings: Config.Config<Settings> = Config.all({
  langBaseUrl: httpUrl("CUSTOM_LANG_BASE_URL", "http://localhost:3000"),
  attemptTimeout: millis("GATEWAY_ATTEMPT_TIMEOUT_MS", 1000),
  breakerMaxRequests: positiveInt("GATEWAY_BREAKER_MAX_REQUESTS", 3),
  breakerInterval: count("GATEWAY_BREAKER_INTERVAL_MS", 10_000).pipe(Config.map(Duration.millis)),
  breakerTimeout: millis("GATEWAY_BREAKER_TIMEOUT_MS", 30_000),
  breakerConsecutiveFailures: positiveInt("GATEWAY_BREAKER_CONSECUTIVE_FAILURES", 5),
  budgetMode: oneOf("GATEWAY_RETRY_BUDGET_MODE", ["bucket", "ratio"], "bucket"),
  budgetCapacity: count("GATEWAY_RETRY_BUDGET_CAPACITY", 20),
  budgetRefillPerSecond: count("GATEWAY_RETRY_BUDGET_REFILL_PER_SECOND", 10),
  // Linkerd's defaults: retries at most 20 % of the requests of the last 10 s, plus 10/s.
  budgetRatio: count("GATEWAY_RETRY_BUDGET_RATIO", 0.2),
  budgetMinPerSecond: count("GATEWAY_RETRY_BUDGET_MIN_PER_SECOND", 10),
  budgetWindowMs: positiveInt("GATEWAY_RETRY_BUDGET_WINDOW_MS", 10_000),
  // lang answers in about a millisecond: 100 running calls is 50,000 req/s at 2 ms each, and
  // 100 hanging ones (a 1 s attempt timeout each) are what a stuck lang may hold of the gateway.
  langMaxConcurrent: positiveInt("GATEWAY_LANG_MAX_CONCURRENT", 100),
  langMaxQueued: count("GATEWAY_LANG_MAX_QUEUED", 100),
  idempotencyTtl: millis("GATEWAY_IDEMPOTENCY_TTL_MS", 24 * 60 * 60 * 1000),
})

export class GatewayConfig extends Context.Service<GatewayConfig, Settings>()("gateway/GatewayConfig") {
  static readonly layer = Layer.effect(GatewayConfig, settings)
}
