import { bare, type TrustedProxies } from "@platform/shared/ClientAddress"
import type { Headers } from "./Proxy.ts"

/**
 * Forwarding headers as Traefik's `forwardedHeaders.trustedIPs` treats them: `X-Forwarded-For`,
 * `-Proto`, `-Host` and `X-Real-Ip` are believed only from a configured proxy
 * (`EDGE_TRUSTED_PROXIES`, CIDRs or addresses, none by default). From a trusted proxy the chain
 * is extended; from anyone else it is replaced, so an upstream never sees a chain a client made
 * up. The client is the last address of the chain that is not a trusted proxy: what the rate
 * limit counts.
 */
const FORWARDING = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip"]

const chainOf = (value: string | Array<string> | undefined) =>
  (Array.isArray(value) ? value.join(",") : (value ?? ""))
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop !== "")

/**
 * Sets the forwarding headers on `headers` (the request's, going upstream) for a connection from
 * `peer`, and answers the client's address.
 */
export const forward = (headers: Headers, peer: string, proxies: TrustedProxies): string => {
  const address = bare(peer)
  if (!proxies.trusts(address)) {
    for (const name of FORWARDING) delete headers[name]
    headers["x-forwarded-for"] = address
    headers["x-forwarded-proto"] = "http"
    headers["x-forwarded-host"] = String(headers.host ?? "")
    headers["x-real-ip"] = address
    return address
  }
  const chain = [...chainOf(headers["x-forwarded-for"]), address]
  headers["x-forwarded-for"] = chain.join(", ")
  headers["x-forwarded-proto"] ??= "http"
  headers["x-forwarded-host"] ??= String(headers.host ?? "")
  // The nearest hop that is not one of ours is the client.
  const client = [...chain].reverse().find((hop) => !proxies.trusts(hop)) ?? address
  headers["x-real-ip"] = client
  return client
}
