import type {
  ExportTraceServiceRequest,
  KeyValue,
  OtlpSpan,
  SpanView,
  TraceDetail,
  TraceSummary,
} from "@platform/contracts/DashboardApi"
import { Context, Effect, Layer, Option } from "effect"

/**
 * The spans every service exported, in memory and bounded: at most `maxTraces` traces and
 * `maxSpans` spans, the oldest trace dropped first. A development tool's store: nothing is
 * written anywhere, and a restart of the platform starts it empty.
 */
export interface Capacity {
  readonly maxTraces: number
  readonly maxSpans: number
}

interface Stored {
  readonly span: OtlpSpan
  readonly service: string
}

type Attribute = string | number | boolean

const attributeValue = (value: KeyValue["value"]): Attribute | undefined => {
  if (value.stringValue !== undefined) return value.stringValue
  if (value.intValue !== undefined) return Number(value.intValue)
  if (value.doubleValue !== undefined) return value.doubleValue
  if (value.boolValue !== undefined) return value.boolValue
  return undefined
}

const attributes = (list: ReadonlyArray<KeyValue> | undefined): Record<string, Attribute> => {
  const result: Record<string, Attribute> = {}
  for (const { key, value } of list ?? []) {
    const read = attributeValue(value)
    // A stack trace says more in a log than in a waterfall: the first line is kept.
    if (read !== undefined) result[key] = key === "exception.stacktrace" ? (String(read).split("\n")[0] ?? "") : read
  }
  return result
}

/** The edge serving the console's own page and scripts (its `/*` route): not what anyone came to see. */
const servesConsoleFiles = (span: OtlpSpan) =>
  span.attributes?.some(({ key, value }) => key === "http.route" && value.stringValue === "/*") === true

const KINDS = ["internal", "internal", "server", "client", "producer", "consumer"] as const

const nanos = (value: string | number) => BigInt(typeof value === "number" ? Math.round(value) : value)
const msBetween = (from: bigint, to: bigint) => Number(to - from) / 1e6

/** The trace's first start and last end, in nanoseconds. */
const bounds = (spans: ReadonlyArray<Stored>) => {
  let start = nanos(spans[0]?.span.startTimeUnixNano ?? 0)
  let end = start
  for (const { span } of spans) {
    const [from, to] = [nanos(span.startTimeUnixNano), nanos(span.endTimeUnixNano)]
    if (from < start) start = from
    if (to > end) end = to
  }
  return { start, end }
}

const summarize = (traceId: string, spans: ReadonlyArray<Stored>): TraceSummary => {
  const { start, end } = bounds(spans)
  const ids = new Set(spans.map(({ span }) => span.spanId))
  // The root: no parent among the spans we have (a browser's parent is not exported here).
  const roots = spans.filter(
    ({ span }) => span.parentSpanId === undefined || span.parentSpanId === "" || !ids.has(span.parentSpanId),
  )
  const root = [...roots].sort((a, b) => Number(nanos(a.span.startTimeUnixNano) - nanos(b.span.startTimeUnixNano)))[0]
  const status = root === undefined ? undefined : attributes(root.span.attributes)["http.response.status_code"]
  return {
    traceId,
    name: root?.span.name ?? "",
    status: typeof status === "number" ? status : null,
    services: [...new Set(spans.map(({ service }) => service))],
    startedAt: Number(start / 1_000_000n),
    durationMs: msBetween(start, end),
    spans: spans.length,
    error: spans.some(({ span }) => span.status?.code === 2),
  }
}

const view = (start: bigint, { span, service }: Stored): SpanView => {
  const spanStart = nanos(span.startTimeUnixNano)
  return {
    spanId: span.spanId,
    parentSpanId: span.parentSpanId === undefined || span.parentSpanId === "" ? null : span.parentSpanId,
    name: span.name,
    service,
    kind: KINDS[span.kind ?? 1] ?? "internal",
    startMs: msBetween(start, spanStart),
    durationMs: msBetween(spanStart, nanos(span.endTimeUnixNano)),
    error: span.status?.code === 2,
    statusMessage: span.status?.message ?? "",
    attributes: attributes(span.attributes),
    events: (span.events ?? []).map((event) => ({
      name: event.name,
      atMs: msBetween(start, nanos(event.timeUnixNano)),
      attributes: attributes(event.attributes),
    })),
  }
}

export class TraceStore extends Context.Service<
  TraceStore,
  {
    readonly capacity: Capacity
    readonly add: (request: ExportTraceServiceRequest) => Effect.Effect<void>
    /** The most recent traces first. */
    readonly list: (limit: number) => Effect.Effect<ReadonlyArray<TraceSummary>>
    readonly get: (traceId: string) => Effect.Effect<Option.Option<TraceDetail>>
  }
>()("platform/TraceStore") {
  static readonly layer = (capacity: Capacity) =>
    Layer.sync(TraceStore, () => {
      // Insertion order is age: a Map's first key is the oldest trace.
      const traces = new Map<string, Array<Stored>>()
      let spanCount = 0
      const evict = () => {
        while (traces.size > capacity.maxTraces || spanCount > capacity.maxSpans) {
          const oldest = traces.keys().next()
          if (oldest.done === true) return
          const spans = traces.get(oldest.value) ?? []
          if (traces.size === 1) {
            // One trace larger than the whole store: its latest spans stay.
            const dropped = spans.splice(0, spans.length - capacity.maxSpans)
            spanCount -= dropped.length
            return
          }
          spanCount -= spans.length
          traces.delete(oldest.value)
        }
      }
      return TraceStore.of({
        capacity,
        add: (request) =>
          Effect.sync(() => {
            for (const resource of request.resourceSpans) {
              const service = String(attributes(resource.resource?.attributes)["service.name"] ?? "unknown")
              for (const scope of resource.scopeSpans) {
                for (const span of scope.spans) {
                  // A trace that gets spans is recent again: it moves to the Map's end.
                  const stored = traces.get(span.traceId) ?? []
                  traces.delete(span.traceId)
                  stored.push({ span, service })
                  traces.set(span.traceId, stored)
                  spanCount += 1
                }
              }
            }
            evict()
          }),
        list: (limit) =>
          Effect.sync(() =>
            [...traces]
              // Requests: a trace some service served. Background work (a database heartbeat, a
              // batch flushed) has no server span, and would bury them.
              .filter(([, spans]) => spans.some(({ span }) => span.kind === 2 && !servesConsoleFiles(span)))
              .map(([traceId, spans]) => summarize(traceId, spans))
              .sort((a, b) => b.startedAt - a.startedAt)
              .slice(0, limit),
          ),
        get: (traceId) =>
          Effect.sync(() => {
            const spans = traces.get(traceId)
            if (spans === undefined || spans.length === 0) return Option.none()
            const { start } = bounds(spans)
            return Option.some({
              summary: summarize(traceId, spans),
              spans: spans.map((stored) => view(start, stored)).sort((a, b) => a.startMs - b.startMs),
            })
          }),
      })
    })
}
