/**
 * `GET /healthz` as the original services answer it: `200 ok\n`, and when the database check
 * fails `503` with the body of their kind.
 */

/** The Connect services (Go): plain text. */
export const connectServices = { healthy: "ok\n", unhealthy: { text: "db unhealthy\n" } } as const

/** The REST services (Express): the error body. */
export const restServices = { healthy: "ok\n", unhealthy: { json: { error: "db health check failed" } } } as const
