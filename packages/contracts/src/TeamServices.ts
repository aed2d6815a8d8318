import { Schema } from "effect"
import registered from "./team-services.json" with { type: "json" }

/**
 * The services a team added with `./platform new-service` (the five of the contract are declared
 * where they are served). One entry per service, written and removed by the generator only; the
 * platform runner starts each one and the edge routes to it, and the deploy tests hold Compose
 * and Kubernetes to the same list.
 */
export const TeamService = Schema.Struct({
  /** Lower-case letters and digits: the package (`packages/<name>`), the host name, the database's prefix. */
  name: Schema.String,
  /** `rest` serves an HttpApi; `connect` a Connect service (Connect, gRPC, gRPC-Web; h2c behind the edge). */
  kind: Schema.Literals(["rest", "connect"]),
  port: Schema.Int,
  /** The edge's path prefix for it. */
  route: Schema.String,
  /** Routed without forward-auth. */
  public: Schema.Boolean,
  database: Schema.String,
})
export type TeamService = typeof TeamService.Type

export const teamServices: ReadonlyArray<TeamService> = Schema.decodeUnknownSync(Schema.Array(TeamService))(registered)

/** The variable that tells the edge where a team's service is (`EDGE_ORDERS_URL`). */
export const edgeUrlVariable = (name: string) => `EDGE_${name.toUpperCase()}_URL`
