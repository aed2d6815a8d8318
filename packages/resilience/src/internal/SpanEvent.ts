import { Clock, Effect, Option, Tracer } from "effect"

/**
 * Marks a moment inside the current span (a retry, a rejection): a trace shows when it
 * happened and why, without a span of its own. Nothing happens outside a span, and that costs
 * nothing (no failed lookup: a fast-fail path runs this on every rejected call).
 */
export const add = (name: string, attributes?: Record<string, unknown>) =>
  Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (parent) => {
    const span = Option.getOrUndefined(parent)
    if (span === undefined || span._tag !== "Span") return Effect.void
    return Effect.map(Clock.currentTimeNanos, (now) => span.event(name, now, attributes))
  })
