import { Clock, Context, Effect, Layer, Metric, Option, type Scope } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import * as ProcessMetrics from "./ProcessMetrics.ts"
import * as Workers from "./Workers.ts"

/**
 * Seconds: OpenTelemetry's advice for HTTP and RPC durations, fine enough below 100 ms for a
 * p99 alert and wide enough for a 10 s outlier.
 */
export const durationBoundaries: ReadonlyArray<number> = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]

/**
 * One labelled series per distinct label set, made once and reused: labelling a metric on
 * every request (Effect derives a key from the attributes) costs more than updating it. `key`
 * names the label set; the labels are few and bounded (a route, a status), as series must be.
 */
export const labelled = <Input, State>(metric: Metric.Metric<Input, State>) => {
  const series = new Map<string, Metric.Metric<Input, State>>()
  return (key: string, attributes: () => Metric.Metric.Attributes): Metric.Metric<Input, State> => {
    let found = series.get(key)
    if (found === undefined) {
      found = Metric.withAttributes(metric, attributes())
      series.set(key, found)
    }
    return found
  }
}

/** Seconds between two readings of the clock's nanoseconds, for a duration histogram. */
export const secondsBetween = (start: bigint, end: bigint) => Number(end - start) / 1e9

/** Seconds since `start` (the clock's nanoseconds), for a duration histogram. */
export const secondsSince = (start: bigint) => Effect.map(Clock.currentTimeNanos, (now) => secondsBetween(start, now))

/**
 * Exports each labelled series of `counter` at zero, from the start: Prometheus' `increase()`
 * cannot see a counter's first increment when the series appears with it.
 */
export const atZero = (
  counter: Metric.Metric<number, unknown>,
  labelSets: Iterable<Metric.Metric.Attributes>,
): Effect.Effect<void> =>
  Effect.forEach(labelSets, (attributes) => Metric.update(Metric.withAttributes(counter, attributes), 0), {
    discard: true,
  })

/**
 * What must be brought up to date before each scrape: a gauge that depends on time (a circuit
 * breaker whose open timeout has passed, a token bucket that refilled) is read then, rather
 * than by a timer in the background.
 */
export class ScrapeHooks extends Context.Service<
  ScrapeHooks,
  {
    /** Runs `refresh` before every scrape while the calling scope is open. */
    readonly add: (refresh: Effect.Effect<void>) => Effect.Effect<void, never, Scope.Scope>
    readonly run: Effect.Effect<void>
  }
>()("platform/ScrapeHooks") {}

/** Registers a refresh to run before every scrape, for as long as the scope is open. */
export const onScrape = (refresh: Effect.Effect<void>) => Effect.flatMap(ScrapeHooks, (hooks) => hooks.add(refresh))

/**
 * A service's own metrics: a registry of its own (so services built in one test process never
 * mix their series) and its scrape hooks. Provided under the whole service, like its config.
 */
export const layer: Layer.Layer<ScrapeHooks> = Layer.mergeAll(
  Layer.sync(Metric.MetricRegistry, () => new Map()),
  Layer.sync(ScrapeHooks, () => {
    const hooks = new Set<Effect.Effect<void>>()
    return ScrapeHooks.of({
      add: (refresh) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            // A distinct object per registration, so the same effect may be added twice.
            const entry = Effect.suspend(() => refresh)
            hooks.add(entry)
            return entry
          }),
          (entry) => Effect.sync(() => hooks.delete(entry)),
        ).pipe(Effect.asVoid),
      run: Effect.suspend(() => Effect.forEach(hooks, (refresh) => refresh, { discard: true })),
    })
  }),
)

/** The Prometheus text format's content type (version 0.0.4, what every Prometheus reads). */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Who may read `/metrics`, by the socket's address: anyone by default (Prometheus scrapes each
 * pod directly); a service on a public port (the edge) narrows it. Others get a 404.
 */
export const MetricsAccess = Context.Reference<(address: string) => boolean>("platform/MetricsAccess", {
  defaultValue: () => () => true,
})

/** This process's metrics in Prometheus' text format, brought up to date first. */
export const scrape: Effect.Effect<string> = Effect.gen(function* () {
  const hooks = yield* Effect.serviceOption(ScrapeHooks)
  if (hooks._tag === "Some") yield* hooks.value.run
  yield* ProcessMetrics.refresh
  return yield* PrometheusMetrics.format()
})

/**
 * `GET /metrics`: every metric of the service, and the process's, in Prometheus' text format;
 * with `WORKERS`, every worker's, labelled `worker`.
 */
export const routes = HttpRouter.add(
  "GET",
  "/metrics",
  Effect.gen(function* () {
    const allowed = yield* MetricsAccess
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!allowed(Option.getOrElse(request.remoteAddress, () => ""))) {
      return HttpServerResponse.text("404 page not found", { status: 404 })
    }
    const body = yield* Workers.gather(scrape)
    return HttpServerResponse.text(body, { contentType: CONTENT_TYPE })
  }),
)
