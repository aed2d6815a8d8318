/**
 * The platform as `pnpm dev` / `pnpm start` runs it: the contract's services, ports and
 * variables. Compose and Kubernetes describe the same services (tests compare them).
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { edgeUrlVariable, type TeamService, teamServices } from "@platform/contracts/TeamServices"

const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url))

/** The contract's services, and any a team added (`./platform new-service`). */
export type Name = "lang" | "auth" | "caller" | "greeter" | "gateway" | "edge" | (string & {})

export interface Spec {
  readonly name: Name
  /** The package, relative to the repository. */
  readonly dir: string
  /** The contract's port. */
  readonly port: number
  /** `OTEL_SERVICE_NAME`: how traces name it, the original's names (Compose and Kubernetes too). */
  readonly telemetryName: string
  /** Its own database (the contract's name), if it has one. */
  readonly database?: string
  /** The path that answers 200 once it is ready. */
  readonly health: string
  /** The services it calls (the console's services map draws these arrows). */
  readonly calls?: ReadonlyArray<Name>
  /** The service's own variables, given where the others are. */
  readonly env: (at: (name: Name) => string, external: string) => Record<string, string>
}

/** Whether `url` is on this machine (the runner's stand-in for the external API, say). */
const isLocal = (url: string) => ["localhost", "127.0.0.1", "[::1]"].includes(URL.parse(url)?.hostname ?? "")

const teamSpec = (service: TeamService): Spec => ({
  name: service.name,
  dir: `packages/${service.name}`,
  port: service.port,
  telemetryName: service.name,
  database: service.database,
  health: "/healthz",
  env: () => ({}),
})

const builtIn: ReadonlyArray<Spec> = [
  {
    name: "lang",
    dir: "packages/lang",
    port: 3000,
    telemetryName: "custom-lang-service",
    database: "lang_db",
    health: "/healthz",
    env: () => ({}),
  },
  {
    name: "auth",
    dir: "packages/auth",
    port: 8090,
    telemetryName: "auth-service",
    database: "auth_db",
    health: "/healthz",
    env: () => ({}),
  },
  {
    name: "caller",
    dir: "packages/caller",
    port: 8081,
    telemetryName: "caller-service",
    database: "caller_db",
    calls: ["external API"],
    health: "/healthz",
    // Its own stand-in for the external API is on this machine: loopback must be reachable. Its
    // call logs survive a crash in the repository's `.data/spool/caller-logs` (replayed at the next start).
    env: (_at, external) => ({
      CALLER_SPOOL_DIR: path.join(repositoryRoot, ".data", "spool", "caller-logs"),
      ...(isLocal(external) ? { CALLER_ALLOW_PRIVATE_NETWORKS: "true" } : {}),
    }),
  },
  {
    name: "greeter",
    dir: "packages/greeter",
    port: 8080,
    telemetryName: "greeter-service",
    database: "greeter_db",
    calls: ["caller"],
    health: "/healthz",
    env: (at, external) => ({ CALLER_BASE_URL: at("caller"), EXTERNAL_API_URL: external }),
  },
  {
    name: "gateway",
    dir: "packages/gateway",
    port: 8082,
    telemetryName: "gateway-service",
    database: "gateway_db",
    calls: ["lang"],
    health: "/healthz",
    env: (at) => ({ CUSTOM_LANG_BASE_URL: at("lang") }),
  },
  {
    name: "edge",
    dir: "packages/edge",
    port: 30081,
    telemetryName: "edge",
    health: "/ping",
    calls: ["auth", "greeter", "gateway", ...teamServices.map((service) => service.name)],
    env: (at) => ({
      EDGE_GREETER_URL: at("greeter"),
      EDGE_GATEWAY_URL: at("gateway"),
      EDGE_AUTH_URL: at("auth"),
      ...Object.fromEntries(teamServices.map((service) => [edgeUrlVariable(service.name), at(service.name)])),
    }),
  },
]

/** The edge last: it starts once the services it routes to are up. */
export const services: ReadonlyArray<Spec> = [
  ...builtIn.filter((spec) => spec.name !== "edge"),
  ...teamServices.map(teamSpec),
  ...builtIn.filter((spec) => spec.name === "edge"),
]

/** The web console's port in its own container (Compose, Kubernetes); the dev edge serves it itself. */
export const WEB_PORT = 8080

/** The local stand-in for greeter's external API (a fresh machine may have no internet). */
export const EXTERNAL_STUB_PORT = 8099

/** The embedded PostgreSQL: never 5432, so it cannot collide with a server the user runs. */
export const EMBEDDED_POSTGRES_PORT = 5433
