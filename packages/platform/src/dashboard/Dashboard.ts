import * as http from "node:http"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { DashboardApi, TraceNotFound } from "@platform/contracts/DashboardApi"
import { Duration, Effect, Layer, Option } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { ApiExplorer } from "./ApiExplorer.ts"
import { ServiceProbe, type Target } from "./ServiceProbe.ts"
import { TraceStore } from "./TraceStore.ts"

/**
 * The development dashboard (`@platform/contracts/DashboardApi`) on loopback: the services map,
 * and an OTLP/JSON receiver whose traces the console lists. The dev edge routes `/platform/` to
 * it, behind forward-auth.
 */
const DashboardHttp = HttpApiBuilder.group(DashboardApi, "dashboard", (handlers) =>
  Effect.gen(function* () {
    const probe = yield* ServiceProbe
    const store = yield* TraceStore
    const explorer = yield* ApiExplorer
    return handlers
      .handle("services", () => probe.current)
      .handle("traces", () =>
        Effect.map(store.list(100), (traces) => ({
          traces,
          capacity: { traces: store.capacity.maxTraces, spans: store.capacity.maxSpans },
        })),
      )
      .handle("apis", () => Effect.map(explorer.endpoints, (endpoints) => ({ endpoints })))
      .handle("call", ({ payload }) => explorer.call(payload))
      .handle("trace", ({ params }) =>
        Effect.flatMap(store.get(params.traceId), (found) =>
          Option.match(found, {
            onNone: () => Effect.fail(new TraceNotFound({ error: "trace not found" })),
            onSome: Effect.succeed,
          }),
        ),
      )
  }),
)

const OtlpHttp = HttpApiBuilder.group(DashboardApi, "otlp", (handlers) =>
  Effect.map(TraceStore, (store) =>
    handlers.handle("exportTraces", ({ payload }) => Effect.as(store.add(payload), {})),
  ),
)

/** What the dashboard keeps: enough for a session of clicking around, bounded. */
export const CAPACITY = { maxTraces: 500, maxSpans: 20_000 } as const
export const REFRESH = Duration.seconds(2)

/**
 * The dashboard on `port` of 127.0.0.1 (0: any free one, which the built `HttpServer` tells): only
 * the runner, the services and the edge need to find it, and they are told where it is.
 */
export const layer = (options: { readonly port: number; readonly targets: ReadonlyArray<Target> }) =>
  HttpRouter.serve(HttpApiBuilder.layer(DashboardApi).pipe(Layer.provide([DashboardHttp, OtlpHttp])), {
    disableLogger: true,
    disableListenLog: true,
  }).pipe(
    Layer.provide([
      TraceStore.layer(CAPACITY),
      ServiceProbe.layer(options.targets, REFRESH),
      ApiExplorer.layer(options.targets),
    ]),
    Layer.provide(NodeHttpClient.layerUndici),
    Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: options.port, host: "127.0.0.1" })),
  )
