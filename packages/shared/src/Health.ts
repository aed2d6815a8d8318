import { Effect, Layer, Metric, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { DatabaseHealth } from "./Database.ts"
import * as Spool from "./Spool.ts"

/** What `GET /healthz` answers; each deployment words it its own way. */
export interface Answers {
  /** The body of the `200`, as text. */
  readonly healthy: string
  /** The body of the `503` when the database check fails: text, or a JSON value. */
  readonly unhealthy: { readonly text: string } | { readonly json: unknown }
}

/**
 * `GET /healthz`: `200` when healthy, `503` when the database check (`SELECT 1`, bounded) fails,
 * with the bodies `answers` gives. A service without a database is healthy.
 *
 * `GET /readyz`, for a Kubernetes readiness probe, answers with the same status: a service that
 * started without its database is not ready until it has reached and migrated it. Its body says
 * why, for an operator: the database's state and what each crash-safe spool holds (rows it took,
 * replayed, refused, bytes waiting on disk), from the process's own metrics. The outage and the
 * return are logged once each by the database layer, not on every probe.
 */
export const layer = (answers: Answers) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const health = yield* DatabaseHealth
      const healthy = HttpServerResponse.text(answers.healthy)
      const unhealthy =
        "text" in answers.unhealthy
          ? HttpServerResponse.text(answers.unhealthy.text, { status: 503 })
          : HttpServerResponse.jsonUnsafe(answers.unhealthy.json, { status: 503 })
      const answer = health.check.pipe(
        Effect.as(healthy),
        Effect.orElseSucceed(() => unhealthy),
      )
      const readiness = Effect.gen(function* () {
        const up = yield* health.check.pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false),
        )
        const body: Readiness = {
          ready: up,
          database: health.enabled ? (up ? "up" : "down") : "none",
          spools: yield* spools,
        }
        return HttpServerResponse.jsonUnsafe(body, { status: up ? 200 : 503 })
      })
      return Layer.mergeAll(HttpRouter.add("GET", "/healthz", answer), HttpRouter.add("GET", "/readyz", readiness))
    }),
  )

/** What a spool's metrics say, as `/readyz` shows it. */
export const SpoolDetail = Schema.Struct({
  rows: Schema.Number,
  replayed: Schema.Number,
  refused: Schema.Number,
  bytes: Schema.Number,
})
export type SpoolDetail = typeof SpoolDetail.Type

/** `GET /readyz`'s body: whether the service is ready, and why. */
export const Readiness = Schema.Struct({
  ready: Schema.Boolean,
  database: Schema.Literals(["up", "down", "none"]),
  spools: Schema.Record(Schema.String, SpoolDetail),
})
export type Readiness = typeof Readiness.Type

/** The metric behind each field of `SpoolDetail` (`Spool`'s own, by their attribute `spool`). */
const spoolFields: Record<string, keyof SpoolDetail> = {
  [Spool.rowsSpooled.id]: "rows",
  [Spool.rowsReplayed.id]: "replayed",
  [Spool.rowsRefused.id]: "refused",
  [Spool.bytesOnDisk.id]: "bytes",
}

/** Each spool of this process, by name, from the metric registry (`{}` without one). */
export const spools: Effect.Effect<Record<string, SpoolDetail>> = Effect.map(Metric.snapshot, (snapshots) => {
  const found: Record<string, { -readonly [K in keyof SpoolDetail]: number }> = {}
  for (const snapshot of snapshots) {
    const field = spoolFields[snapshot.id]
    const name = snapshot.attributes?.spool
    if (field === undefined || typeof name !== "string") continue
    if (snapshot.type !== "Counter" && snapshot.type !== "Gauge") continue
    const value = "count" in snapshot.state ? snapshot.state.count : snapshot.state.value
    found[name] ??= { rows: 0, replayed: 0, refused: 0, bytes: 0 }
    found[name][field] = Number(value)
  }
  return found
})
