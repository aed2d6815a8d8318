import type { ServiceMap, ServiceStatus } from "@platform/contracts/DashboardApi"
import { Readiness } from "@platform/shared/Health"
import { Context, Duration, Effect, Layer, Ref, Schedule, Schema } from "effect"
import { HttpClient } from "effect/http"

/**
 * Every few seconds, each service's `/healthz` (up or down, and why), `/readyz` (its database)
 * and `/metrics` (requests, 5xx and latency since the last look): the services map's figures.
 * The probes themselves (`/healthz`, `/readyz`, `/metrics`, `/ping`) are left out of them.
 */
export interface Target {
  readonly name: string
  readonly port: number
  readonly health: string
  readonly database: string | undefined
  readonly calls: ReadonlyArray<string>
}

interface Counters {
  readonly at: number
  readonly requests: number
  readonly errors: number
  /** Cumulative counts per upper bound (seconds), summed over routes. */
  readonly buckets: ReadonlyMap<number, number>
}

const PROBES = new Set(["/healthz", "/readyz", "/metrics", "/ping"])

/** `name{labels} value` lines of one metric, labels read as the text format writes them. */
export const samples = (text: string, name: string) => {
  const found: Array<{ readonly labels: Record<string, string>; readonly value: number }> = []
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== "{" && line[name.length] !== " ")) continue
    const close = line.lastIndexOf("}")
    const labels: Record<string, string> = {}
    if (line[name.length] === "{") {
      for (const match of line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels[match[1] ?? ""] = (match[2] ?? "").replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
      }
    }
    const value = Number(
      line
        .slice(line[name.length] === "{" ? close + 1 : name.length)
        .trim()
        .split(" ")[0],
    )
    if (Number.isFinite(value) || value === Number.POSITIVE_INFINITY) found.push({ labels, value })
  }
  return found
}

export const counters = (text: string, at: number): Counters => {
  const served = (labels: Record<string, string>) => !PROBES.has(labels.route ?? "")
  let requests = 0
  let errors = 0
  for (const { labels, value } of samples(text, "http_server_requests_total")) {
    if (!served(labels)) continue
    requests += value
    if ((labels.status ?? "").startsWith("5")) errors += value
  }
  const buckets = new Map<number, number>()
  for (const { labels, value } of samples(text, "http_server_request_duration_seconds_bucket")) {
    if (!served(labels)) continue
    const le = labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(labels.le)
    buckets.set(le, (buckets.get(le) ?? 0) + value)
  }
  return { at, requests, errors, buckets }
}

/** Rate, 5xx ratio and p99 (a bucket's upper bound, in ms) between two looks. */
export const figures = (before: Counters | undefined, now: Counters) => {
  if (before === undefined) return { requestsPerSecond: 0, errorRatio: 0, p99Ms: null }
  const requests = Math.max(0, now.requests - before.requests)
  const seconds = Math.max(0.001, (now.at - before.at) / 1000)
  const bounds = [...now.buckets.keys()].sort((a, b) => a - b)
  const total = Math.max(
    0,
    (now.buckets.get(Number.POSITIVE_INFINITY) ?? 0) - (before.buckets.get(Number.POSITIVE_INFINITY) ?? 0),
  )
  let p99Ms: number | null = null
  if (total > 0) {
    for (const bound of bounds) {
      const count = (now.buckets.get(bound) ?? 0) - (before.buckets.get(bound) ?? 0)
      if (count >= total * 0.99) {
        p99Ms = Number.isFinite(bound) ? bound * 1000 : null
        break
      }
    }
  }
  return {
    requestsPerSecond: requests / seconds,
    errorRatio: requests === 0 ? 0 : Math.max(0, now.errors - before.errors) / requests,
    p99Ms,
  }
}

/** No `/metrics` to read: nothing to say about rate, errors or latency. */
const UNMEASURED = { requestsPerSecond: 0, errorRatio: 0, p99Ms: null }

const decodeReadiness = Schema.decodeUnknownOption(Schema.fromJsonString(Readiness))

/**
 * One GET, its status and body, or why there is none. Through Effect's HttpClient on undici, not
 * `fetch`: the services' ports may be ones `fetch` refuses (10080, 6000... with an offset).
 */
export const get = (url: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.get(url).pipe(
      Effect.flatMap((response) => Effect.map(response.text, (body) => ({ status: response.status, body }))),
      Effect.mapError(() => "not answering"),
      Effect.timeoutOrElse({ duration: "1500 millis", orElse: () => Effect.fail("no answer within 1.5 s") }),
    ),
  )

export class ServiceProbe extends Context.Service<ServiceProbe, { readonly current: Effect.Effect<ServiceMap> }>()(
  "platform/ServiceProbe",
) {
  static readonly layer = (targets: ReadonlyArray<Target>, every: Duration.Duration) =>
    Layer.effect(
      ServiceProbe,
      Effect.gen(function* () {
        const previous = new Map<string, Counters>()
        const probe = (target: Target) =>
          Effect.gen(function* () {
            const base = `http://127.0.0.1:${target.port}`
            const health = yield* Effect.result(get(`${base}${target.health}`))
            const up = health._tag === "Success" && health.success.status === 200
            const reason =
              health._tag === "Failure"
                ? health.failure
                : up
                  ? null
                  : `${target.health} answered ${health.success.status}: ${health.success.body.trim().slice(0, 200)}`
            const ready = target.database === undefined ? undefined : yield* Effect.option(get(`${base}/readyz`))
            const readiness = ready?._tag === "Some" ? decodeReadiness(ready.value.body) : undefined
            const metrics = yield* Effect.option(get(`${base}/metrics`))
            const now = metrics._tag === "Some" ? counters(metrics.value.body, Date.now()) : undefined
            const measured = now === undefined ? UNMEASURED : figures(previous.get(target.name), now)
            if (now !== undefined) previous.set(target.name, now)
            const status: ServiceStatus = {
              name: target.name,
              port: target.port,
              calls: target.calls,
              health: up ? "up" : "down",
              reason,
              database:
                target.database === undefined
                  ? null
                  : {
                      name: target.database,
                      state: readiness?._tag === "Some" ? readiness.value.database : up ? "up" : "down",
                    },
              ...measured,
            }
            return status
          })
        const look = Effect.map(Effect.forEach(targets, probe, { concurrency: "unbounded" }), (services) => ({
          services,
          refreshedAt: Date.now(),
          refreshEveryMs: Duration.toMillis(every),
        }))
        const state = yield* Ref.make<ServiceMap>(yield* look)
        yield* look.pipe(
          Effect.flatMap((map) => Ref.set(state, map)),
          Effect.repeat(Schedule.spaced(every)),
          Effect.forkScoped,
        )
        return ServiceProbe.of({ current: Ref.get(state) })
      }),
    )
}
