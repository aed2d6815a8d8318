import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"

/**
 * The development dashboard that `./platform start` and `dev` serve beside the services: what
 * runs and how it is doing (`/platform/services`, from each service's `/healthz`, `/readyz` and
 * `/metrics`), and the traces of recent requests (`/platform/traces`), received over OTLP/JSON
 * (`POST /v1/traces`) from every service and kept in memory. The dev edge routes `/platform/`
 * to it for the web console; the Compose and Kubernetes deployments have Grafana and Tempo
 * instead, and no such route.
 */

// OTLP/JSON (opentelemetry-proto's JSON mapping), the part the dashboard reads: ids in hex,
// times in nanoseconds as strings, attribute values tagged by type.
const AnyValue = Schema.Struct({
  stringValue: Schema.optionalKey(Schema.String),
  intValue: Schema.optionalKey(Schema.Union([Schema.Number, Schema.String])),
  doubleValue: Schema.optionalKey(Schema.Number),
  boolValue: Schema.optionalKey(Schema.Boolean),
})
export const KeyValue = Schema.Struct({ key: Schema.String, value: AnyValue })
export type KeyValue = typeof KeyValue.Type
const Nanos = Schema.Union([Schema.String, Schema.Number])
export const OtlpSpan = Schema.Struct({
  traceId: Schema.String,
  spanId: Schema.String,
  parentSpanId: Schema.optionalKey(Schema.String),
  name: Schema.String,
  kind: Schema.optionalKey(Schema.Number),
  startTimeUnixNano: Nanos,
  endTimeUnixNano: Nanos,
  attributes: Schema.optionalKey(Schema.Array(KeyValue)),
  events: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        timeUnixNano: Nanos,
        attributes: Schema.optionalKey(Schema.Array(KeyValue)),
      }),
    ),
  ),
  status: Schema.optionalKey(
    Schema.Struct({ code: Schema.optionalKey(Schema.Number), message: Schema.optionalKey(Schema.String) }),
  ),
})
export type OtlpSpan = typeof OtlpSpan.Type
export const ExportTraceServiceRequest = Schema.Struct({
  resourceSpans: Schema.Array(
    Schema.Struct({
      resource: Schema.optionalKey(Schema.Struct({ attributes: Schema.optionalKey(Schema.Array(KeyValue)) })),
      scopeSpans: Schema.Array(Schema.Struct({ spans: Schema.Array(OtlpSpan) })),
    }),
  ),
})
export type ExportTraceServiceRequest = typeof ExportTraceServiceRequest.Type

/** What the console shows. */
export const AttributeValue = Schema.Union([Schema.String, Schema.Number, Schema.Boolean])
export const Attributes = Schema.Record(Schema.String, AttributeValue)

export const SpanEvent = Schema.Struct({
  name: Schema.String,
  /** Milliseconds after the trace's start. */
  atMs: Schema.Number,
  attributes: Attributes,
})

export const SpanView = Schema.Struct({
  spanId: Schema.String,
  parentSpanId: Schema.NullOr(Schema.String),
  name: Schema.String,
  /** `service.name` of the process that recorded it. */
  service: Schema.String,
  kind: Schema.Literals(["internal", "server", "client", "producer", "consumer"]),
  /** Milliseconds after the trace's start. */
  startMs: Schema.Number,
  durationMs: Schema.Number,
  error: Schema.Boolean,
  statusMessage: Schema.String,
  attributes: Attributes,
  events: Schema.Array(SpanEvent),
})
export type SpanView = typeof SpanView.Type

export const TraceSummary = Schema.Struct({
  traceId: Schema.String,
  /** The root span's name (`POST /greeter.v1.GreeterService/Greet`), or the earliest span's. */
  name: Schema.String,
  /** The HTTP status the first server answered with, when it says. */
  status: Schema.NullOr(Schema.Number),
  services: Schema.Array(Schema.String),
  /** Epoch milliseconds. */
  startedAt: Schema.Number,
  durationMs: Schema.Number,
  spans: Schema.Int,
  error: Schema.Boolean,
})
export type TraceSummary = typeof TraceSummary.Type

export const TraceList = Schema.Struct({
  traces: Schema.Array(TraceSummary),
  /** Traces and spans kept at most (older ones are dropped first). */
  capacity: Schema.Struct({ traces: Schema.Int, spans: Schema.Int }),
})
export type TraceList = typeof TraceList.Type

export const TraceDetail = Schema.Struct({
  summary: TraceSummary,
  spans: Schema.Array(SpanView),
})
export type TraceDetail = typeof TraceDetail.Type

export const DatabaseState = Schema.Literals(["up", "down", "none"])

export const ServiceStatus = Schema.Struct({
  name: Schema.String,
  port: Schema.Int,
  /** What the service calls (the map's arrows). */
  calls: Schema.Array(Schema.String),
  health: Schema.Literals(["up", "down"]),
  /** Why it is down: its `/healthz` answer, or that it does not answer. */
  reason: Schema.NullOr(Schema.String),
  database: Schema.NullOr(Schema.Struct({ name: Schema.String, state: DatabaseState })),
  /** Over the last refresh interval, the dashboard's own probes left out. */
  requestsPerSecond: Schema.Number,
  /** 5xx answers over all answers in that interval (0 with none). */
  errorRatio: Schema.Number,
  /** Of the answers in that interval, from the duration histogram; null with none. */
  p99Ms: Schema.NullOr(Schema.Number),
})
export type ServiceStatus = typeof ServiceStatus.Type

export const ServiceMap = Schema.Struct({
  services: Schema.Array(ServiceStatus),
  /** Epoch milliseconds of the last refresh. */
  refreshedAt: Schema.Number,
  refreshEveryMs: Schema.Int,
})
export type ServiceMap = typeof ServiceMap.Type

/** A REST endpoint of a service, from its `/openapi.json` (its HttpApi contract). */
export const ApiEndpoint = Schema.Struct({
  service: Schema.String,
  method: Schema.String,
  path: Schema.String,
  operationId: Schema.String,
  summary: Schema.String,
  /** A JSON body to start from (the request schema's fields), when it takes one. */
  example: Schema.NullOr(Schema.String),
})
export type ApiEndpoint = typeof ApiEndpoint.Type

export const ApiCatalog = Schema.Struct({ endpoints: Schema.Array(ApiEndpoint) })
export type ApiCatalog = typeof ApiCatalog.Type

/** A request the explorer asks the dashboard to send to one of the services, on loopback. */
export const ApiCall = Schema.Struct({
  service: Schema.String,
  method: Schema.Literals(["GET", "POST", "PUT", "PATCH", "DELETE"]),
  /** Path and query, starting with `/`. */
  path: Schema.String.check(Schema.isPattern(/^\/(?![/\\])/)),
  headers: Schema.Record(Schema.String, Schema.String),
  body: Schema.NullOr(Schema.String),
})
export type ApiCall = typeof ApiCall.Type

export const ApiAnswer = Schema.Struct({
  status: Schema.Int,
  headers: Schema.Record(Schema.String, Schema.String),
  /** The body as text, cut at 64 KiB. */
  body: Schema.String,
  durationMs: Schema.Number,
})
export type ApiAnswer = typeof ApiAnswer.Type

export class UnknownService extends Schema.TaggedError<UnknownService>()("UnknownService", {
  error: Schema.String,
}) {}

export class ServiceUnreachable extends Schema.TaggedError<ServiceUnreachable>()("ServiceUnreachable", {
  error: Schema.String,
}) {}

export class TraceNotFound extends Schema.TaggedError<TraceNotFound>()("TraceNotFound", {
  error: Schema.Literal("trace not found"),
}) {}

export const services = HttpApiEndpoint.get("services", "/platform/services", { success: ServiceMap })
export const traces = HttpApiEndpoint.get("traces", "/platform/traces", { success: TraceList })
export const trace = HttpApiEndpoint.get("trace", "/platform/traces/:traceId", {
  params: { traceId: Schema.String },
  success: TraceDetail,
  error: TraceNotFound.pipe(HttpApiSchema.status(404)),
})
export const apis = HttpApiEndpoint.get("apis", "/platform/apis", { success: ApiCatalog })
export const call = HttpApiEndpoint.post("call", "/platform/call", {
  payload: ApiCall,
  success: ApiAnswer,
  error: [UnknownService.pipe(HttpApiSchema.status(404)), ServiceUnreachable.pipe(HttpApiSchema.status(502))],
})

/** OTLP/HTTP with the JSON encoding: what each service's exporter sends. */
export const exportTraces = HttpApiEndpoint.post("exportTraces", "/v1/traces", {
  payload: ExportTraceServiceRequest,
  success: Schema.Struct({}),
})

export class DashboardGroup extends HttpApiGroup.make("dashboard").add(services, traces, trace, apis, call) {}
export class OtlpGroup extends HttpApiGroup.make("otlp").add(exportTraces) {}
export class DashboardApi extends HttpApi.make("dashboard").add(DashboardGroup, OtlpGroup) {}
