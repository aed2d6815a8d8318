import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { DatabaseHealth } from "./Database.ts"

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
 * `GET /readyz` answers the same, for a Kubernetes readiness probe: a service that started
 * without its database is not ready until it has reached and migrated it. The outage and the
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
      return Layer.mergeAll(HttpRouter.add("GET", "/healthz", answer), HttpRouter.add("GET", "/readyz", answer))
    }),
  )
