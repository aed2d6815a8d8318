import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { DatabaseHealth } from "./Database.ts"

/**
 * `GET /healthz` exactly as the contract words it: `200 ok\n` when healthy, `503` when the
 * database check (`SELECT 1`) fails, with the body the original services of that kind send:
 * plain `db unhealthy\n` for Connect services, `{"error":"db health check failed"}` for REST.
 * A service without a database is healthy.
 */
export const layer = (style: "connect" | "rest") =>
  Layer.unwrap(
    Effect.gen(function* () {
      const health = yield* DatabaseHealth
      const healthy = HttpServerResponse.text("ok\n")
      const unhealthy =
        style === "connect"
          ? HttpServerResponse.text("db unhealthy\n", { status: 503 })
          : HttpServerResponse.jsonUnsafe({ error: "db health check failed" }, { status: 503 })
      return HttpRouter.add(
        "GET",
        "/healthz",
        health.check.pipe(
          Effect.as(healthy),
          Effect.catch((error) => Effect.as(Effect.logWarning(`health check failed: ${error.message}`), unhealthy)),
        ),
      )
    }),
  )
