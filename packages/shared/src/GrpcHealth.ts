import type { DescService } from "@bufbuild/protobuf"
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect"
import { connectNodeAdapter } from "@connectrpc/connect-node"
import { Effect, Exit, type Layer } from "effect"
import { HttpRouter } from "effect/http"
import { mountAdapter } from "./Connect.ts"
import { DatabaseHealth } from "./Database.ts"
import { Health, HealthCheckResponse_ServingStatus as Status } from "./gen/grpc/health/v1/health_pb.ts"

/** How often `Watch` looks again; it answers only when the status changes. */
const WATCH_INTERVAL_MS = 1000

/**
 * `grpc.health.v1.Health` (Check, List, Watch), the gRPC form of `/healthz`: `SERVING` while the
 * database check passes (or there is no database), `NOT_SERVING` otherwise, for the server as a
 * whole (`""`) and for each of `services` by name; another name is `NOT_FOUND` (`Watch`:
 * `SERVICE_UNKNOWN`). What Kubernetes' gRPC probes, grpc_health_probe and grpcurl ask.
 */
export const layer = (
  services: ReadonlyArray<DescService>,
): Layer.Layer<never, never, HttpRouter.HttpRouter | DatabaseHealth> =>
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      const database = yield* DatabaseHealth
      // The service's own context: what the check logs goes where the service logs.
      const runtime = yield* Effect.context<never>()
      const known = new Set(["", ...services.map((service) => service.typeName)])
      // The adapter edge: connect-node calls Promise-returning handlers.
      const status = (signal?: AbortSignal) =>
        Effect.runPromiseExitWith(runtime)(database.check, signal === undefined ? {} : { signal }).then((exit) =>
          Exit.isSuccess(exit) ? Status.SERVING : Status.NOT_SERVING,
        )
      const adapter = connectNodeAdapter({
        // Their requests are a few names: nothing larger is read.
        readMaxBytes: 64 * 1024,
        routes: (connect: ConnectRouter) => {
          connect.service(Health, {
            async check(request, context) {
              if (!known.has(request.service)) {
                throw new ConnectError(`unknown service ${request.service}`, Code.NotFound)
              }
              return { status: await status(context.signal) }
            },
            async list(_request, context) {
              const now = await status(context.signal)
              return { statuses: Object.fromEntries([...known].map((name) => [name, { status: now }])) }
            },
            async *watch(request, context) {
              if (!known.has(request.service)) {
                yield { status: Status.SERVICE_UNKNOWN }
                return
              }
              let last: Status | undefined
              while (!context.signal.aborted) {
                const now = await status(context.signal)
                if (now !== last) yield { status: now }
                last = now
                await new Promise<void>((resolve) => {
                  const done = () => {
                    clearTimeout(timer)
                    context.signal.removeEventListener("abort", done)
                    resolve()
                  }
                  const timer = setTimeout(done, WATCH_INTERVAL_MS)
                  context.signal.addEventListener("abort", done, { once: true })
                })
              }
            },
          })
        },
      })
      yield* mountAdapter(router, Health.typeName, adapter)
    }),
  )
