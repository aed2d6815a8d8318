import { Context, Effect, Layer, Option, Tracer } from "effect"

/** A span as a test sees it once it has ended. */
export interface RecordedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly kind: Tracer.SpanKind
  readonly attributes: ReadonlyMap<string, unknown>
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown> }>
  readonly status: Tracer.SpanStatus
}

/**
 * The in-memory exporter for tests: every span that ends is recorded, in the order it ended.
 */
export class SpanRecorder extends Context.Service<
  SpanRecorder,
  { readonly spans: Effect.Effect<ReadonlyArray<RecordedSpan>>; readonly clear: Effect.Effect<void> }
>()("testkit/SpanRecorder") {
  static readonly layer = Layer.effectContext(
    Effect.sync(() => {
      const recorded: Array<RecordedSpan> = []
      const tracer = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          const end = span.end.bind(span)
          span.end = (endTime, exit) => {
            end(endTime, exit)
            recorded.push({
              name: span.name,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: Option.getOrUndefined(Option.map(span.parent, (parent) => parent.spanId)),
              kind: span.kind,
              attributes: span.attributes,
              events: span.events.map(([name, , attributes]) => ({ name, attributes })),
              status: span.status,
            })
          }
          return span
        },
      })
      return Context.make(Tracer.Tracer, tracer).pipe(
        Context.add(
          SpanRecorder,
          SpanRecorder.of({
            spans: Effect.sync(() => [...recorded]),
            clear: Effect.sync(() => {
              recorded.length = 0
            }),
          }),
        ),
      )
    }),
  )
}
