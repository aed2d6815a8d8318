import { flag, optionalString, positiveInt } from "@platform/shared/ServiceConfig"
import { Config, Context, Duration, Layer, Option } from "effect"

export interface Settings {
  /** Deadline of one external call: connect, headers and the whole body. */
  readonly timeout: Duration.Duration
  readonly maxBodyBytes: number
  /** Hosts caller may fetch from; empty: any host (but never link-local addresses). */
  readonly allowedHosts: ReadonlyArray<string>
  /**
   * Loopback, private and other non-public addresses may be fetched (`CALLER_ALLOW_PRIVATE_NETWORKS`,
   * default false): for development, where the external API is a stand-in on this machine.
   */
  readonly allowPrivateNetworks: boolean
  /** Call-log rows waiting for the database at most; beyond, a request writes its own row. */
  readonly logQueueCapacity: number
  readonly logBatchSize: number
  /** Fetches that may run at once, and wait beyond those, before one is refused (`CallerBusy`). */
  readonly maxConcurrent: number
  readonly maxQueued: number
  /** The crash-safe spool's folder (`CALLER_SPOOL_DIR`); none: call logs wait in memory only. */
  readonly spoolDirectory: Option.Option<string>
  readonly spoolMaxBytes: number
}

export const settings: Config.Config<Settings> = Config.all({
  timeout: positiveInt("CALLER_TIMEOUT_MS", 3000).pipe(Config.map(Duration.millis)),
  maxBodyBytes: positiveInt("CALLER_MAX_BODY_BYTES", 10 * 1024 * 1024),
  allowedHosts: optionalString("CALLER_ALLOWED_HOSTS").pipe(
    Config.map(
      Option.match({
        onNone: () => [],
        onSome: (raw) =>
          raw
            .split(",")
            .map((host) => host.trim().toLowerCase())
            .filter((host) => host !== ""),
      }),
    ),
  ),
  allowPrivateNetworks: flag("CALLER_ALLOW_PRIVATE_NETWORKS", false),
  logQueueCapacity: positiveInt("CALLER_LOG_QUEUE_SIZE", 10_000),
  logBatchSize: positiveInt("CALLER_LOG_BATCH_SIZE", 500),
  // An external API answers in 0.1 to 3 s (the timeout): 256 at once carry 1,000 req/s at 250 ms,
  // and bound what a hanging one holds (sockets, fibers, body buffers) to 512 calls.
  maxConcurrent: positiveInt("CALLER_MAX_CONCURRENT", 256),
  maxQueued: positiveInt("CALLER_MAX_QUEUED", 256),
  // Off unless set: the folder must outlive the process and belong to this caller alone (the
  // runner, Compose and Kubernetes give it one).
  spoolDirectory: optionalString("CALLER_SPOOL_DIR"),
  // About 2.5 million rows of ~100 bytes: hours of traffic through a database outage.
  spoolMaxBytes: positiveInt("CALLER_SPOOL_MAX_BYTES", 256 * 1024 * 1024),
})

export class CallerConfig extends Context.Service<CallerConfig, Settings>()("caller/CallerConfig") {
  static readonly layer = Layer.effect(CallerConfig, settings)
}
