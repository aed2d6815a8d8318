/**
 * The edge's routing table, the contract's: which path prefix goes to which service, through
 * which middlewares, in which order. The dev edge serves it; the Traefik configurations of
 * Compose and Kubernetes say the same (a test compares them, so they cannot drift).
 */
export type MiddlewareName = "cors" | "auth" | "rate-limit" | "retry"

import { type TeamService, teamServices } from "@platform/contracts/TeamServices"

/** The contract's upstreams, and each service a team added (`./platform new-service`). */
export type Upstream = "greeter" | "gateway" | "auth" | "web" | (string & {})

export interface Route {
  readonly name: string
  /** Traefik's `PathPrefix`: a string prefix of the path. */
  readonly prefix: string
  readonly upstream: Upstream
  /** The upstream speaks cleartext HTTP/2 (the Connect services): every route to it says the same. */
  readonly h2c: boolean
  readonly middlewares: ReadonlyArray<MiddlewareName>
}

/** A team's service: behind forward-auth unless generated `--public`; Connect services over h2c. */
export const teamRoute = (service: TeamService): Route => ({
  name: service.name,
  prefix: service.route,
  upstream: service.name,
  h2c: service.kind === "connect",
  middlewares: service.public ? ["cors", "rate-limit"] : ["cors", "auth", "rate-limit"],
})

export const routes: ReadonlyArray<Route> = [
  {
    name: "greeter",
    prefix: "/greeter.v1.GreeterService",
    upstream: "greeter",
    h2c: true,
    middlewares: ["cors", "auth", "rate-limit", "retry"],
  },
  {
    name: "gateway",
    prefix: "/gateway.v1.GatewayService",
    upstream: "gateway",
    h2c: true,
    middlewares: ["cors", "auth", "rate-limit"],
  },
  { name: "auth", prefix: "/auth", upstream: "auth", h2c: false, middlewares: ["cors", "rate-limit"] },
  // Not in the original: the web console's live view of the gateway's breaker and budget.
  {
    name: "resilience",
    prefix: "/resilience",
    upstream: "gateway",
    h2c: true,
    middlewares: ["cors", "auth", "rate-limit"],
  },
  ...teamServices.map(teamRoute),
  { name: "web", prefix: "/", upstream: "web", h2c: false, middlewares: [] },
]

/**
 * Not a route of the deployments: `./platform start` points the dev edge at its dashboard
 * (`EDGE_DASHBOARD_URL`), whose services map and traces the console shows to a signed-in user.
 */
export const dashboardRoute: Route = {
  name: "dashboard",
  prefix: "/platform/",
  upstream: "dashboard",
  h2c: false,
  middlewares: ["auth", "rate-limit"],
}

/** The routes this edge serves: the table, and the dashboard's when it has one. */
export const servedRoutes = (withDashboard: boolean): ReadonlyArray<Route> =>
  withDashboard ? [...routes, dashboardRoute] : routes

/** On the edge's own 502: the upstream that gave no answer (`greeter`), for a same-origin console. */
export const UNREACHABLE_HEADER = "x-edge-unreachable"

/** The contract's middleware settings. */
export const settings = {
  cors: {
    methods: ["GET", "POST", "OPTIONS"],
    headers: [
      "Content-Type",
      "Authorization",
      "Connect-Protocol-Version",
      "Connect-Timeout-Ms",
      "Grpc-Timeout",
      "X-Grpc-Web",
      "X-User-Agent",
      // Beyond the contract's list, what the original's browsers send: its console's
      // InvokeCustom carries an Idempotency-Key, and a browser with tracing on W3C trace context.
      "Idempotency-Key",
      "traceparent",
      "tracestate",
      "baggage",
    ],
    // WWW-Authenticate: a browser on another origin tells the edge's refusal of its token by it.
    exposedHeaders: ["Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "WWW-Authenticate"],
    maxAgeSeconds: 7200,
    defaultOrigins: ["http://localhost:30081"],
  },
  auth: { verifyPath: "/verify", copiedHeaders: ["X-User-Id", "X-User-Role"] },
  rateLimit: { average: 100, burst: 50, periodSeconds: 1 },
  retry: { attempts: 3, initialIntervalMs: 100 },
} as const

/** The route Traefik would pick: the longest matching prefix. */
export const match = (path: string, table: ReadonlyArray<Route> = routes): Route | undefined => {
  let best: Route | undefined
  for (const route of table) {
    if (path.startsWith(route.prefix) && (best === undefined || route.prefix.length > best.prefix.length)) best = route
  }
  return best
}
