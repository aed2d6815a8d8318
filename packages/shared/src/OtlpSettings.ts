import { Config, Option } from "effect"
import { invalid, optionalString, positiveInt } from "./ServiceConfig.ts"

/**
 * Where traces, metrics and logs go, read from the variables the OpenTelemetry specification
 * defines for every SDK: `OTEL_EXPORTER_OTLP_{ENDPOINT,PROTOCOL,HEADERS}` and their per-signal
 * forms `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*` (which win), `OTEL_{TRACES,METRICS,LOGS}_EXPORTER`
 * (`none` turns a signal off), `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER(_ARG)` and
 * `OTEL_METRIC_EXPORT_INTERVAL`.
 * A signal is exported only when an endpoint names its collector: the contract's
 * `OTEL_EXPORTER_OTLP_ENDPOINT` empty or unset means no export.
 */

export type Protocol = "grpc" | "http/protobuf" | "http/json"
export type Signal = "traces" | "metrics" | "logs"

export interface Target {
  readonly signal: Signal
  readonly protocol: Protocol
  /** The URL the exporter sends to: with the signal's path for OTLP/HTTP, the collector's for gRPC. */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** How long one export may take, retries included (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s). */
  readonly timeoutMillis: number
}

export type Sampler =
  | { readonly _tag: "AlwaysOn" | "AlwaysOff" }
  | { readonly _tag: "TraceIdRatio"; readonly ratio: number }
  | { readonly _tag: "ParentBased"; readonly root: Sampler }

export interface Settings {
  readonly targets: ReadonlyArray<Target>
  readonly sampler: Sampler
  readonly metricExportInterval: number
  /** `OTEL_BSP_SCHEDULE_DELAY`: how long finished spans wait to be sent together (ms; 5000). */
  readonly spanScheduleDelay: number
}

const PROTOCOLS: ReadonlyArray<Protocol> = ["grpc", "http/protobuf", "http/json"]
const SIGNALS: ReadonlyArray<Signal> = ["traces", "metrics", "logs"]

const protocol = (name: string) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed(Option.none<Protocol>()),
        onSome: (raw) => {
          const value = raw.trim().toLowerCase()
          return PROTOCOLS.includes(value as Protocol)
            ? Config.succeed(Option.some(value as Protocol))
            : invalid(name, `expected grpc, http/protobuf or http/json, got ${JSON.stringify(raw)}`)
        },
      }),
    ),
  )

const endpoint = (name: string) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed(Option.none<string>()),
        onSome: (raw) => {
          const parsed = URL.parse(raw.trim())
          return parsed !== null && (parsed.protocol === "http:" || parsed.protocol === "https:")
            ? Config.succeed(Option.some(raw.trim()))
            : invalid(name, "expected an http(s) URL such as http://localhost:4318")
        },
      }),
    ),
  )

/** `key=value,key2=value2`, each part percent-decoded, as the specification's headers variables. */
const headers = (name: string) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed<Record<string, string>>({}),
        onSome: (raw) => {
          const pairs: Record<string, string> = {}
          for (const part of raw.split(",")) {
            if (part.trim() === "") continue
            const at = part.indexOf("=")
            if (at <= 0)
              return invalid(name, `expected key=value pairs separated by commas, got ${JSON.stringify(part)}`)
            try {
              pairs[decodeURIComponent(part.slice(0, at).trim())] = decodeURIComponent(part.slice(at + 1).trim())
            } catch {
              return invalid(name, `${JSON.stringify(part)} is not percent-encoded correctly`)
            }
          }
          return Config.succeed(pairs)
        },
      }),
    ),
  )

/** OTLP/HTTP appends the signal's path to the shared endpoint; a per-signal endpoint is used as it is. */
const signalUrl = (base: string, signal: Signal) => `${base.replace(/\/+$/, "")}/v1/${signal}`

const target = (signal: Signal) => {
  const prefix = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}`
  return Config.all({
    exporter: optionalString(`OTEL_${signal.toUpperCase()}_EXPORTER`),
    own: endpoint(`${prefix}_ENDPOINT`),
    shared: endpoint("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ownProtocol: protocol(`${prefix}_PROTOCOL`),
    sharedProtocol: protocol("OTEL_EXPORTER_OTLP_PROTOCOL"),
    sharedHeaders: headers("OTEL_EXPORTER_OTLP_HEADERS"),
    ownHeaders: headers(`${prefix}_HEADERS`),
    sharedTimeout: positiveInt("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000),
    ownTimeout: optionalString(`${prefix}_TIMEOUT`).pipe(Config.flatMap(() => positiveInt(`${prefix}_TIMEOUT`, 0))),
  }).pipe(
    Config.map((read): Option.Option<Target> => {
      if (
        Option.getOrElse(read.exporter, () => "otlp")
          .trim()
          .toLowerCase() === "none"
      )
        return Option.none()
      // The specification's default protocol, and the JavaScript SDK's.
      const chosen = Option.getOrElse(
        Option.orElse(read.ownProtocol, () => read.sharedProtocol),
        () => "http/protobuf",
      )
      const url = Option.isSome(read.own)
        ? Option.some(read.own.value)
        : Option.map(read.shared, (base) => (chosen === "grpc" ? base : signalUrl(base, signal)))
      return Option.map(url, (value) => ({
        signal,
        protocol: chosen as Protocol,
        url: value,
        headers: { ...read.sharedHeaders, ...read.ownHeaders },
        timeoutMillis: read.ownTimeout > 0 ? read.ownTimeout : read.sharedTimeout,
      }))
    }),
  )
}

const ratio = optionalString("OTEL_TRACES_SAMPLER_ARG").pipe(
  Config.flatMap(
    Option.match({
      onNone: () => Config.succeed(1),
      onSome: (raw) => {
        const value = Number(raw)
        return raw.trim() !== "" && value >= 0 && value <= 1
          ? Config.succeed(value)
          : invalid("OTEL_TRACES_SAMPLER_ARG", `expected a ratio between 0 and 1, got ${JSON.stringify(raw)}`)
      },
    }),
  ),
)

const sampler: Config.Config<Sampler> = Config.all({ name: optionalString("OTEL_TRACES_SAMPLER"), ratio }).pipe(
  Config.flatMap(({ name, ratio }) => {
    const value = Option.getOrElse(name, () => "parentbased_always_on")
      .trim()
      .toLowerCase()
    const roots: Record<string, Sampler> = {
      always_on: { _tag: "AlwaysOn" },
      always_off: { _tag: "AlwaysOff" },
      traceidratio: { _tag: "TraceIdRatio", ratio },
    }
    const root = roots[value.replace(/^parentbased_/, "")]
    if (root === undefined) {
      return invalid(
        "OTEL_TRACES_SAMPLER",
        `expected always_on, always_off, traceidratio or their parentbased_ forms, got ${JSON.stringify(value)}`,
      )
    }
    return Config.succeed(value.startsWith("parentbased_") ? { _tag: "ParentBased" as const, root } : root)
  }),
)

export const settings: Config.Config<Settings> = Config.all({
  targets: Config.all(SIGNALS.map(target)).pipe(
    Config.map((found) => found.flatMap((option) => (Option.isSome(option) ? [option.value] : []))),
  ),
  sampler,
  metricExportInterval: positiveInt("OTEL_METRIC_EXPORT_INTERVAL", 60_000),
  spanScheduleDelay: positiveInt("OTEL_BSP_SCHEDULE_DELAY", 5_000),
})
