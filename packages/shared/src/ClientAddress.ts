import * as net from "node:net"
import { Option } from "effect"
import type { HttpServerRequest } from "effect/http"

/**
 * Who a request came from, when proxies stand in between: forwarding headers are believed only
 * from a configured proxy (as Traefik's `forwardedHeaders.trustedIPs`), never from a client,
 * which can write anything there.
 */
export interface TrustedProxies {
  readonly trusts: (address: string) => boolean
}

/** `::ffff:10.0.0.1` is 10.0.0.1. */
export const bare = (address: string) => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "")

/** Addresses and CIDRs (`10.0.0.0/8`, `::1`), as the configuration lists them. */
export const trustedProxies = (entries: ReadonlyArray<string>): TrustedProxies => {
  const list = new net.BlockList()
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/")
    const type = net.isIPv6(address) ? "ipv6" : "ipv4"
    if (prefix === undefined) list.addAddress(address, type)
    else list.addSubnet(address, Number(prefix), type)
  }
  return {
    trusts: (address) => {
      const plain = bare(address)
      const family = net.isIP(plain)
      return family !== 0 && list.check(plain, family === 4 ? "ipv4" : "ipv6")
    },
  }
}

/** Whether `entry` is an address or a CIDR, for the configuration's one-line refusal. */
export const isCidr = (entry: string) => {
  const [address = "", prefix, ...rest] = entry.split("/")
  const family = net.isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  const bits = Number(prefix)
  return /^\d+$/.test(prefix) && bits >= 0 && bits <= (family === 4 ? 32 : 128)
}

/** The private networks a cluster's proxies live on, and loopback. */
export const PRIVATE_NETWORKS: ReadonlyArray<string> = [
  "127.0.0.0/8",
  "::1",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "fc00::/7",
]

/**
 * The client of `request`: the `X-Real-Ip` a trusted proxy set (the edge and Traefik set it from
 * what they believe), else the socket's peer.
 */
export const of = (request: HttpServerRequest.HttpServerRequest, proxies: TrustedProxies): string => {
  const peer = bare(Option.getOrElse(request.remoteAddress, () => "unknown"))
  const forwarded = request.headers["x-real-ip"]
  return proxies.trusts(peer) && forwarded !== undefined && net.isIP(bare(forwarded.trim())) !== 0
    ? bare(forwarded.trim())
    : peer
}
