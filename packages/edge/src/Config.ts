import { edgeUrlVariable, teamServices } from "@platform/contracts/TeamServices"
import {
  cidrList,
  commaList,
  httpUrl,
  nonNegativeInt,
  optionalString,
  positiveInt,
} from "@platform/shared/ServiceConfig"
import { Config, Context, Layer, Option } from "effect"
import { settings } from "./Routes.ts"

export interface Settings {
  /** Where each upstream is; `web` is optional (none: the edge answers `/` itself). */
  readonly upstreams: {
    readonly greeter: string
    readonly gateway: string
    readonly auth: string
    readonly web: Option.Option<string>
    /** `EDGE_DASHBOARD_URL`: the dev runner's dashboard, routed at `/platform/` (none in deployments). */
    readonly dashboard: Option.Option<string>
  }
  /** Where each team service is (`EDGE_<NAME>_URL`, its port on localhost by default). */
  readonly teamUpstreams: Readonly<Record<string, string>>
  /** A folder of built web assets to serve at `/` instead of a `web` upstream. */
  readonly webDir: Option.Option<string>
  readonly corsOrigins: ReadonlyArray<string>
  /** Request headers a preflight allows (`EDGE_CORS_HEADERS`, comma-separated; the table's list by default). */
  readonly corsHeaders: ReadonlyArray<string>
  readonly rateAverage: number
  readonly rateBurst: number
  /** Proxies whose forwarding headers are believed (`EDGE_TRUSTED_PROXIES`, CIDRs; none by default). */
  readonly trustedProxies: ReadonlyArray<string>
  /** Who may read the edge's `/metrics` (`EDGE_METRICS_ALLOW`, CIDRs; loopback by default): it is the public port. */
  readonly metricsAllow: ReadonlyArray<string>
  /**
   * How long a retrying route keeps trying an upstream that refuses connections
   * (`EDGE_RESTART_WINDOW_MS`): it is restarting, and has not seen the request.
   */
  readonly restartWindowMs: number
  /**
   * How long auth's yes to a bearer token lets that token's next requests through without asking
   * again (`EDGE_AUTH_CACHE_MS`, 1000 by default; 0: ask auth on every request, as Traefik does).
   */
  readonly authCacheMs: number
}

export const config: Config.Config<Settings> = Config.all({
  upstreams: Config.all({
    greeter: httpUrl("EDGE_GREETER_URL", "http://localhost:8080"),
    gateway: httpUrl("EDGE_GATEWAY_URL", "http://localhost:8082"),
    auth: httpUrl("EDGE_AUTH_URL", "http://localhost:8090"),
    web: optionalString("EDGE_WEB_URL").pipe(Config.map(Option.map((value) => value.replace(/\/+$/, "")))),
    dashboard: optionalString("EDGE_DASHBOARD_URL").pipe(Config.map(Option.map((value) => value.replace(/\/+$/, "")))),
  }),
  teamUpstreams: Config.all(
    Object.fromEntries(
      teamServices.map((service) => [
        service.name,
        httpUrl(edgeUrlVariable(service.name), `http://localhost:${service.port}`),
      ]),
    ),
  ),
  webDir: optionalString("EDGE_WEB_DIR"),
  corsOrigins: commaList("EDGE_CORS_ORIGINS", settings.cors.defaultOrigins),
  corsHeaders: commaList("EDGE_CORS_HEADERS", settings.cors.headers),
  rateAverage: positiveInt("EDGE_RATE_LIMIT_AVERAGE", settings.rateLimit.average),
  rateBurst: positiveInt("EDGE_RATE_LIMIT_BURST", settings.rateLimit.burst),
  trustedProxies: cidrList("EDGE_TRUSTED_PROXIES", []),
  metricsAllow: cidrList("EDGE_METRICS_ALLOW", ["127.0.0.0/8", "::1"]),
  // A service restarts in 1 to 5 s here (measured: greeter, 4.3 s); a client may wait that long.
  restartWindowMs: positiveInt("EDGE_RESTART_WINDOW_MS", 5_000),
  // Auth's own replicas learn a session ended elsewhere within a second (AUTH_REVOCATION_POLL_MS).
  authCacheMs: nonNegativeInt("EDGE_AUTH_CACHE_MS", 1_000),
})

export class EdgeConfig extends Context.Service<EdgeConfig, Settings>()("edge/EdgeConfig") {
  static readonly layer = Layer.effect(EdgeConfig, config)
}
