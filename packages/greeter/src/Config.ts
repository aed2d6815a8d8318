import { httpUrl, invalid, nonNegativeInt, optionalString, positiveInt } from "@platform/shared/ServiceConfig"
import { Config, Context, Duration, Layer, Option } from "effect"

export interface Settings {
  /** Where caller listens (`CALLER_BASE_URL`). */
  readonly callerBaseUrl: string
  /** The URL greeter asks caller to fetch (`EXTERNAL_API_URL`). */
  readonly externalApiUrl: string
  /** Effect RPC (ours) or Connect (the original Go caller, or any Connect-speaking one). */
  readonly callerProtocol: "rpc" | "connect"
  /** The contract's deadline on the call to caller. */
  readonly callerDeadline: Duration.Duration
  /** Calls to caller that may run at once, and wait beyond those, before one is refused. */
  readonly callerMaxConcurrent: number
  readonly callerMaxQueued: number
  /**
   * Calls to caller made within this long of each other share one HTTP request
   * (`GREETER_CALLER_BATCH_WINDOW_MS`, 1 by default; 0: every call its own request). A call with
   * none other that recent is sent at once.
   */
  readonly callerBatchWindow: Duration.Duration
}

export const settings: Config.Config<Settings> = Config.all({
  callerBaseUrl: httpUrl("CALLER_BASE_URL", "http://localhost:8081"),
  externalApiUrl: optionalString("EXTERNAL_API_URL").pipe(Config.map(Option.getOrElse(() => "https://example.com/"))),
  callerProtocol: optionalString("CALLER_PROTOCOL").pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed("rpc" as const),
        onSome: (raw) => {
          const value = raw.trim().toLowerCase()
          return value === "rpc" || value === "connect"
            ? Config.succeed<"rpc" | "connect">(value)
            : invalid("CALLER_PROTOCOL", `expected rpc or connect, got ${JSON.stringify(raw)}`)
        },
      }),
    ),
  ),
  callerDeadline: positiveInt("GREETER_CALLER_TIMEOUT_MS", 2000).pipe(Config.map(Duration.millis)),
  // caller's own bulkhead's figures: greeter never queues more on caller than caller would take.
  callerMaxConcurrent: positiveInt("GREETER_CALLER_MAX_CONCURRENT", 256),
  callerMaxQueued: positiveInt("GREETER_CALLER_MAX_QUEUED", 256),
  callerBatchWindow: nonNegativeInt("GREETER_CALLER_BATCH_WINDOW_MS", 1).pipe(Config.map(Duration.millis)),
})

export class GreeterConfig extends Context.Service<GreeterConfig, Settings>()("greeter/GreeterConfig") {
  static readonly layer = Layer.effect(GreeterConfig, settings)
}
