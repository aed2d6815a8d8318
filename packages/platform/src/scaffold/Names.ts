/**
 * What `./platform new-service` accepts: a name, a kind, a port, a route. Each check answers with
 * one line a user can act on; all of them run before anything is written.
 */

export type Kind = "rest" | "connect"

export interface Request {
  readonly name: string
  readonly kind: Kind
  readonly port: number
  /** The edge's path prefix: `/<name>` for REST by default, the service's path for Connect. */
  readonly route: string
  readonly public: boolean
}

/** The forms of a name the templates use: `orders`, `Orders`, `ORDERS`. */
export const forms = (name: string) => ({
  lower: name,
  pascal: name.charAt(0).toUpperCase() + name.slice(1),
  upper: name.toUpperCase(),
})

/** The Connect service's path: `/orders.v1.OrdersService`. */
export const connectRoute = (name: string) => `/${name}.v1.${forms(name).pascal}Service`

/** Names taken by the platform itself, its tools, or the words its files already use for something else. */
export const RESERVED = new Set([
  "lang",
  "auth",
  "caller",
  "greeter",
  "gateway",
  "edge",
  "web",
  "platform",
  "shared",
  "contracts",
  "testkit",
  "resilience",
  "embedded",
  "bench",
  "templates",
  "template",
  "specimen",
  "postgres",
  "traefik",
  "prometheus",
  "tempo",
  "grafana",
  "grpc",
  "google",
  "buf",
  "api",
  "rpc",
  "healthz",
  "readyz",
  "metrics",
  "ping",
  "verify",
  "node",
  "effect",
  "test",
  "tests",
  "system",
  "default",
  "new",
  "delete",
])

const NAME = /^[a-z][a-z0-9]{1,29}$/
const ROUTE = /^(\/[a-z0-9][a-z0-9._-]*)+$/

/** What is already taken: the services' names and ports, the edge's prefixes, the packages. */
export interface Taken {
  readonly services: ReadonlyArray<{ readonly name: string; readonly port: number }>
  /** Ports the runner uses for itself (embedded PostgreSQL, the external API stand-in, the console). */
  readonly ports: ReadonlyArray<{ readonly port: number; readonly by: string }>
  readonly routes: ReadonlyArray<{ readonly prefix: string; readonly name: string }>
  readonly packages: ReadonlyArray<string>
}

/** The first thing wrong with `request`, as one line, or `undefined`. */
export const problem = (request: Request, taken: Taken): string | undefined => {
  const { name, port, route } = request
  if (!NAME.test(name)) {
    return `the name ${JSON.stringify(name)} must be 2 to 30 lower-case letters and digits, starting with a letter`
  }
  if (RESERVED.has(name)) return `the name ${name} is reserved by the platform; choose another`
  if (taken.services.some((service) => service.name === name)) return `a service named ${name} exists already`
  if (taken.packages.includes(name)) return `packages/${name} exists already`
  if (!Number.isInteger(port) || port < 1024 || port > 65535) {
    return `--port must be a whole number from 1024 to 65535, got ${port}`
  }
  const portOwner = taken.services.find((service) => service.port === port)
  if (portOwner !== undefined) return `port ${port} is ${portOwner.name}'s; choose another with --port`
  const reserved = taken.ports.find((entry) => entry.port === port)
  if (reserved !== undefined) return `port ${port} is used by ${reserved.by}; choose another with --port`
  // A Connect service's route is its own path (`/orders.v1.OrdersService`), not the user's choice.
  if (request.kind === "rest" && !ROUTE.test(route)) {
    return `--route must be a path like /orders (lower-case letters, digits, '.', '_', '-'), got ${JSON.stringify(route)}`
  }
  const overlapping = taken.routes.find(
    (existing) => existing.prefix !== "/" && (route.startsWith(existing.prefix) || existing.prefix.startsWith(route)),
  )
  if (overlapping !== undefined) {
    return `--route ${route} overlaps ${overlapping.name}'s ${overlapping.prefix} at the edge; choose another`
  }
  return undefined
}
