import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { freePort } from "@platform/testkit/Processes"
import { Duration, Effect, Layer } from "effect"
import { ServiceProbe } from "../src/dashboard/ServiceProbe.ts"

/** A service that answers `/healthz` with `status` and `body`, for the test's scope. */
const service = (status: number, body: string) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<http.Server>((resolve) => {
          const server = http.createServer((request, response) => {
            if (request.url === "/healthz") response.writeHead(status).end(body)
            else response.writeHead(404).end()
          })
          server.listen(0, "127.0.0.1", () => resolve(server))
        }),
    ),
    (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve()))),
  ).pipe(Effect.map((server) => (server.address() as AddressInfo).port))

describe("ServiceProbe: a service that is down is down with the reason", () => {
  it.live("one that answers 503 says what it answered; one that does not answer says so; one up is up", () =>
    Effect.gen(function* () {
      const sick = yield* service(503, '{"error":"db health check failed"}')
      const healthy = yield* service(200, "ok")
      const gone = yield* Effect.promise(freePort)
      const target = (name: string, port: number) => ({
        name,
        port,
        health: "/healthz",
        database: undefined,
        calls: [],
      })
      const map = yield* Effect.flatMap(ServiceProbe, (probe) => probe.current).pipe(
        Effect.provide(
          ServiceProbe.layer(
            [target("sick", sick), target("gone", gone), target("healthy", healthy)],
            Duration.seconds(60),
          ).pipe(Layer.provide(NodeHttpClient.layerUndici)),
        ),
      )
      const by = (name: string) => map.services.find((s) => s.name === name)
      assert.deepStrictEqual(
        [by("sick")?.health, by("sick")?.reason],
        ["down", '/healthz answered 503: {"error":"db health check failed"}'],
      )
      assert.deepStrictEqual([by("gone")?.health, by("gone")?.reason], ["down", "not answering"])
      assert.deepStrictEqual([by("healthy")?.health, by("healthy")?.reason], ["up", null])
    }),
  )
})
