import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ExportResultCode } from "@opentelemetry/core"
import { BatchLogRecordProcessor } from "@opentelemetry/sdk-logs"
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base"
import { Effect, Fiber, Layer, Queue } from "effect"
import * as OtlpSettings from "./OtlpSettings.ts"
import { ServiceConfig } from "./ServiceConfig.ts"

/**
 * Traces, metrics and logs exported over OTLP with the OpenTelemetry SDK's own exporters (through
 * `@effect/opentelemetry`), configured by the specification's variables (`OtlpSettings`): gRPC,
 * HTTP with protobuf or HTTP with JSON, per signal; headers; resource attributes; sampler.
 * Without an endpoint nothing is exported, but spans are still made (trace ids reach the logs
 * and travel to other services). A collector that cannot be reached is said once, with its
 * address, and again when it answers; the service stays healthy either way. Exporters flush
 * when the layer closes, so a graceful shutdown loses nothing. Prometheus' `/metrics` stays.
 */

interface Report {
  readonly target: OtlpSettings.Target
  readonly ok: boolean
  readonly error: string | undefined
}

interface Exporter {
  export(items: unknown, done: (result: { code: ExportResultCode; error?: Error }) => void): void
}

/** The SDK's exporter class for a signal and a protocol, loaded only when it is used. */
const exporterClass = async (target: OtlpSettings.Target): Promise<new (options: object) => Exporter> => {
  switch (`${target.signal} ${target.protocol}`) {
    case "traces grpc":
      return (await import("@opentelemetry/exporter-trace-otlp-grpc")).OTLPTraceExporter as never
    case "traces http/protobuf":
      return (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter as never
    case "traces http/json":
      return (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter as never
    case "metrics grpc":
      return (await import("@opentelemetry/exporter-metrics-otlp-grpc")).OTLPMetricExporter as never
    case "metrics http/protobuf":
      return (await import("@opentelemetry/exporter-metrics-otlp-proto")).OTLPMetricExporter as never
    case "metrics http/json":
      return (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter as never
    case "logs grpc":
      return (await import("@opentelemetry/exporter-logs-otlp-grpc")).OTLPLogExporter as never
    case "logs http/protobuf":
      return (await import("@opentelemetry/exporter-logs-otlp-proto")).OTLPLogExporter as never
    default:
      return (await import("@opentelemetry/exporter-logs-otlp-http")).OTLPLogExporter as never
  }
}

/** The exporter for `target`, telling `report` how each export went. */
const makeExporter = (target: OtlpSettings.Target, report: (report: Report) => void) =>
  Effect.promise(async () => {
    const Class = await exporterClass(target)
    let options: object = { url: target.url, headers: target.headers, timeoutMillis: target.timeoutMillis }
    if (target.protocol === "grpc") {
      const { Metadata } = await import("@grpc/grpc-js")
      const metadata = new Metadata()
      for (const [key, value] of Object.entries(target.headers)) metadata.set(key, value)
      options = { url: target.url, metadata, timeoutMillis: target.timeoutMillis }
    }
    const exporter = new Class(options)
    const send = exporter.export.bind(exporter)
    // A failed export is reported here, and the SDK is told the batch is done: the exporter has
    // already retried it, the data is dropped either way, and a failure returned to the metric
    // reader would fail the service's shutdown.
    exporter.export = (items, done) =>
      send(items, (result) => {
        report({ target, ok: result.code === ExportResultCode.SUCCESS, error: result.error?.message })
        done({ code: ExportResultCode.SUCCESS })
      })
    return exporter
  })

const toSampler = (sampler: OtlpSettings.Sampler): Sampler => {
  switch (sampler._tag) {
    case "AlwaysOn":
      return new AlwaysOnSampler()
    case "AlwaysOff":
      return new AlwaysOffSampler()
    case "TraceIdRatio":
      return new TraceIdRatioBasedSampler(sampler.ratio)
    case "ParentBased":
      return new ParentBasedSampler({ root: toSampler(sampler.root) })
  }
}

/**
 * Says once that a collector cannot be reached, and once that it answers again. Runs for the
 * scope it is made in, and says what the exporters' last flush reported before it ends.
 */
const reporter = (reports: Queue.Queue<Report>) => {
  const failing = new Set<OtlpSettings.Target>()
  const say = ({ target, ok, error }: Report) => {
    const where = `${target.signal} to ${target.url} (OTLP ${target.protocol})`
    if (!ok && !failing.has(target)) {
      failing.add(target)
      return Effect.logWarning(
        `cannot export ${where}: ${error ?? "the collector refused them"}; they are dropped until it answers, and the service goes on`,
      )
    }
    if (ok && failing.delete(target)) return Effect.logInfo(`exporting ${where} again`)
    return Effect.void
  }
  return Effect.acquireRelease(Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(reports), say))), (fiber) =>
    Effect.andThen(
      Fiber.interrupt(fiber),
      Effect.flatMap(Queue.clear(reports), (left) => Effect.forEach(left, say, { discard: true })),
    ),
  )
}

export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServiceConfig
    const otlp = yield* OtlpSettings.settings
    if (otlp.targets.length === 0) return Layer.empty
    const reports = yield* Queue.unbounded<Report>()
    const exporters = new Map<OtlpSettings.Signal, Exporter>()
    for (const target of otlp.targets) {
      exporters.set(target.signal, yield* makeExporter(target, (report) => Queue.offerUnsafe(reports, report)))
      yield* Effect.logInfo(`exporting ${target.signal} to ${target.url} (OTLP ${target.protocol})`)
    }
    const traces = exporters.get("traces")
    const metrics = exporters.get("metrics")
    const logs = exporters.get("logs")
    const metricsTimeout = otlp.targets.find((target) => target.signal === "metrics")?.timeoutMillis ?? 10_000
    // The reporter is made first and ends last: it hears how the exporters' final flush went.
    return NodeSdk.layer(() => ({
      resource: { serviceName: config.serviceName },
      spanProcessor:
        traces === undefined
          ? undefined
          : new BatchSpanProcessor(traces as never, { scheduledDelayMillis: otlp.spanScheduleDelay }),
      tracerConfig: { sampler: toSampler(otlp.sampler) },
      metricReader:
        metrics === undefined
          ? undefined
          : new PeriodicExportingMetricReader({
              exporter: metrics as never,
              exportIntervalMillis: otlp.metricExportInterval,
              exportTimeoutMillis: Math.min(otlp.metricExportInterval, metricsTimeout),
            }),
      logRecordProcessor: logs === undefined ? undefined : new BatchLogRecordProcessor({ exporter: logs as never }),
      // The service's JSON lines on stdout stay; the records go to the collector as well.
      loggerMergeWithExisting: true,
      shutdownTimeout: "3 seconds",
    })).pipe(Layer.provideMerge(Layer.effectDiscard(reporter(reports))))
  }),
)
