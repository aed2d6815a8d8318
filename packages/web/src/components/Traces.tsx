import type { SpanView, TraceDetail, TraceSummary } from "@platform/contracts/DashboardApi"
import { useQuery } from "@tanstack/react-query"
import { useState } from "react"
import { describe } from "../clients/ErrorMessage.ts"
import { useNavigation } from "../Navigation.tsx"
import { authorized, usePlatform } from "../Platform.tsx"
import { DashboardUnavailable, isDashboardMissing } from "./DashboardUnavailable.tsx"

const ms = (value: number) => (value < 1 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0))
const time = (epochMs: number) => new Date(epochMs).toLocaleTimeString()

/** Each service one hue, the same in every trace. */
const hue = (service: string) => [...service].reduce((sum, char) => (sum * 31 + char.charCodeAt(0)) % 360, 7)

/** Spans in tree order (a parent, then its children by start), each with its depth. */
export const inTreeOrder = (spans: ReadonlyArray<SpanView>) => {
  const ids = new Set(spans.map((span) => span.spanId))
  const children = new Map<string | null, Array<SpanView>>()
  for (const span of spans) {
    const parent = span.parentSpanId !== null && ids.has(span.parentSpanId) ? span.parentSpanId : null
    children.set(parent, [...(children.get(parent) ?? []), span])
  }
  const ordered: Array<{ readonly span: SpanView; readonly depth: number }> = []
  const visit = (parent: string | null, depth: number) => {
    for (const span of [...(children.get(parent) ?? [])].sort((a, b) => a.startMs - b.startMs)) {
      ordered.push({ span, depth })
      visit(span.spanId, depth + 1)
    }
  }
  visit(null, 0)
  return ordered
}

function SpanDetail({ span }: { readonly span: SpanView }) {
  const entries = Object.entries(span.attributes)
  return (
    <div className="span-detail" data-testid="span-detail">
      <h4>
        {span.name}{" "}
        <span className="muted">
          ({span.service}, {span.kind})
        </span>
      </h4>
      {span.error && <p className="bad">failed{span.statusMessage === "" ? "" : `: ${span.statusMessage}`}</p>}
      {entries.length > 0 && (
        <table className="attributes">
          <tbody>
            {entries.map(([key, value]) => (
              <tr key={key}>
                <th scope="row">{key}</th>
                <td>{String(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {span.events.length > 0 && (
        <ul className="events" aria-label="events">
          {span.events.map((event, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: events have no id, and never move
            <li key={index}>
              <strong>{event.name}</strong> at {ms(event.atMs)} ms
              {Object.entries(event.attributes).map(([key, value]) => (
                <span key={key} className="muted">
                  {" "}
                  {key}={String(value)}
                </span>
              ))}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** One trace as a waterfall: each span a bar placed by when it started and how long it took. */
export function Waterfall({ trace }: { readonly trace: TraceDetail }) {
  const [selected, setSelected] = useState<string | undefined>(undefined)
  const total = Math.max(trace.summary.durationMs, 0.001)
  const rows = inTreeOrder(trace.spans)
  const chosen = trace.spans.find((span) => span.spanId === selected)
  return (
    <div className="waterfall" data-testid="waterfall" data-trace-id={trace.summary.traceId}>
      <h3>
        {trace.summary.name} <span className="muted">{ms(trace.summary.durationMs)} ms</span>
      </h3>
      <ol aria-label="spans">
        {rows.map(({ span, depth }) => (
          <li key={span.spanId} data-service={span.service} className={span.error ? "error" : undefined}>
            <button
              type="button"
              className="span-row"
              aria-pressed={span.spanId === selected}
              onClick={() => setSelected(span.spanId === selected ? undefined : span.spanId)}
            >
              <span className="span-name" style={{ paddingLeft: `${depth * 0.9}rem` }}>
                <span className="service-tag" style={{ background: `hsl(${hue(span.service)} 60% 45%)` }}>
                  {span.service}
                </span>{" "}
                {span.name}
              </span>
              <span className="span-track">
                <span
                  className="span-bar"
                  style={{
                    left: `${(span.startMs / total) * 100}%`,
                    width: `${Math.max(0.5, (span.durationMs / total) * 100)}%`,
                    background: `hsl(${hue(span.service)} 60% 50%)`,
                  }}
                />
              </span>
              <span className="span-ms">{ms(span.durationMs)} ms</span>
            </button>
          </li>
        ))}
      </ol>
      {chosen !== undefined && <SpanDetail span={chosen} />}
    </div>
  )
}

function TraceRow({ trace, open }: { readonly trace: TraceSummary; readonly open: (id: string) => void }) {
  return (
    <li className={trace.error ? "error" : undefined}>
      <button type="button" className="trace-row" data-trace-id={trace.traceId} onClick={() => open(trace.traceId)}>
        <span className="trace-name">{trace.name}</span>
        <span className="muted">{trace.status ?? ""}</span>
        <span>{ms(trace.durationMs)} ms</span>
        <span className="muted">{trace.services.join(" → ")}</span>
        <span className="muted">{time(trace.startedAt)}</span>
      </button>
    </li>
  )
}

/** The console's own polling (this view, the services map, the resilience panel): hidden by default. */
const POLLING = new Set(["GET /platform/*", "GET /resilience/*"])

function TraceList({
  traces,
  open,
}: {
  readonly traces: ReadonlyArray<TraceSummary>
  readonly open: (traceId: string) => void
}) {
  if (traces.length === 0) return <p className="muted">No requests yet: greet or invoke, and they appear here.</p>
  return (
    <ol className="traces" aria-label="recent requests">
      {traces.slice(0, 30).map((trace) => (
        <TraceRow key={trace.traceId} trace={trace} open={open} />
      ))}
    </ol>
  )
}

/** Recent requests across every service, newest first; one opens as its waterfall. */
export function Traces() {
  const { api, session } = usePlatform()
  const navigation = useNavigation()
  const selected = navigation.selectedTrace
  const [showPolling, setShowPolling] = useState(false)
  const list = useQuery({
    queryKey: ["traces"],
    queryFn: () => authorized(session, api.traces),
    refetchInterval: 2000,
    retry: false,
  })
  const detail = useQuery({
    queryKey: ["trace", selected],
    queryFn: () => authorized(session, (token) => api.trace(token, selected ?? "")),
    enabled: selected !== undefined,
    // A trace still arriving (its spans come from several services): look again shortly.
    refetchInterval: 1500,
    retry: 5,
    retryDelay: 500,
  })
  if (list.isError) {
    return isDashboardMissing(list.error) ? <DashboardUnavailable /> : <p role="alert">{describe(list.error)}</p>
  }
  return (
    <section className="card wide" aria-labelledby="traces-title">
      <h2 id="traces-title">Traces</h2>
      {selected !== undefined &&
        (detail.data !== undefined ? (
          <Waterfall trace={detail.data} />
        ) : detail.isError ? (
          <p role="alert">{describe(detail.error)}</p>
        ) : (
          <p>Waiting for the trace {selected}…</p>
        ))}
      <label className="inline">
        <input type="checkbox" checked={showPolling} onChange={(e) => setShowPolling(e.target.checked)} />
        Show the console's own polling
      </label>
      {list.data === undefined ? (
        <p>Loading…</p>
      ) : (
        <TraceList
          traces={list.data.traces.filter((trace) => showPolling || !POLLING.has(trace.name))}
          open={navigation.openTrace}
        />
      )}
    </section>
  )
}
