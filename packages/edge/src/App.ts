import { trustedProxies } from "@platform/shared/ClientAddress"
import { DEFAULT_UNTRACED } from "@platform/shared/HttpTelemetry"
import { MetricsAccess } from "@platform/shared/Metrics"
import * as Server from "@platform/shared/Server"
import { Effect, Layer } from "effect"
import { EdgeConfig } from "./Config.ts"
import { Edge } from "./Edge.ts"
import { EdgeRoutes } from "./inbound/Http.ts"

export const defaults = { name: "edge", port: 30081 } as const

/** The edge is the public port: its `/metrics` answers only `EDGE_METRICS_ALLOW` (loopback). */
const Metrics = Layer.effect(
  MetricsAccess,
  Effect.map(EdgeConfig, (config) => trustedProxies(config.metricsAllow).trusts),
)

/** The edge on the given HTTP server; Traefik's own `/ping` is a probe, not a trace. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(EdgeRoutes, { untraced: [...DEFAULT_UNTRACED, "/ping"] }).pipe(
    Layer.provide(Metrics),
    Layer.provideMerge(server),
    Layer.provide(Edge.layer),
    Layer.provide(EdgeConfig.layer),
  )
