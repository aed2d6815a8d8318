import * as dns from "node:dns"
import * as net from "node:net"

/**
 * What caller may fetch. The original is an open fetch proxy; ours refuses, whether the URL names
 * the address literally (in any spelling the URL parser accepts), a DNS name resolves to it, or a
 * redirect leads there:
 * - always, link-local addresses (169.254.0.0/16, fe80::/10: the cloud metadata endpoints live
 *   there, AWS's IPv6 one too);
 * - unless `CALLER_ALLOW_PRIVATE_NETWORKS=true`, every address that is not on the public
 *   internet: loopback, unspecified, private (RFC 1918), shared (100.64/10), unique-local IPv6,
 *   and the benchmarking, multicast and reserved ranges; so that a caller in a cluster cannot be
 *   asked for its neighbours' `/metrics` or an internal admin port;
 * - when `CALLER_ALLOWED_HOSTS` is set, any host outside that list.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */

interface Range {
  readonly kind: string
  readonly list: net.BlockList
}

const range = (kind: string, subnets: ReadonlyArray<readonly [string, number]>): Range => {
  const list = new net.BlockList()
  for (const [address, prefix] of subnets) list.addSubnet(address, prefix, net.isIPv6(address) ? "ipv6" : "ipv4")
  return { kind, list }
}

const linkLocal: ReadonlyArray<Range> = [
  range("link-local", [
    ["169.254.0.0", 16],
    ["fe80::", 10],
    // AWS's IPv6 instance metadata endpoint is not link-local, but serves the same secrets.
    ["fd00:ec2::254", 128],
  ]),
]

const internal: ReadonlyArray<Range> = [
  range("loopback", [
    ["127.0.0.0", 8],
    ["::1", 128],
  ]),
  range("unspecified", [
    ["0.0.0.0", 8],
    ["::", 128],
  ]),
  range("private", [
    ["10.0.0.0", 8],
    ["172.16.0.0", 12],
    ["192.168.0.0", 16],
  ]),
  range("shared (carrier-grade NAT)", [["100.64.0.0", 10]]),
  range("unique-local", [["fc00::", 7]]),
  range("reserved", [
    ["192.0.0.0", 24],
    ["198.18.0.0", 15],
    ["224.0.0.0", 4],
    ["240.0.0.0", 4],
    ["ff00::", 8],
    // IPv4-compatible and NAT64 forms carry an IPv4 address this list would not see.
    ["::", 96],
    ["64:ff9b::", 96],
  ]),
]

export interface Policy {
  /** Refuse the internal ranges too (not only link-local). */
  readonly denyPrivate: boolean
  /** Hosts caller may fetch from; empty: any. */
  readonly allowedHosts: ReadonlyArray<string>
}

export const defaultPolicy: Policy = { denyPrivate: true, allowedHosts: [] }

/** The kind of denied range `address` is in (`loopback`, `link-local`...), or `undefined`. */
export const deniedKind = (address: string, denyPrivate = true): string | undefined => {
  const family = net.isIP(address)
  if (family === 0) return undefined
  const type = family === 4 ? "ipv4" : "ipv6"
  const ranges = denyPrivate ? [...linkLocal, ...internal] : linkLocal
  return ranges.find((candidate) => candidate.list.check(address, type))?.kind
}

export type Verdict =
  | { readonly _tag: "Allowed"; readonly url: URL }
  | { readonly _tag: "Invalid"; readonly message: string }
  | { readonly _tag: "Denied"; readonly message: string }

/** `*.example.com` allows every subdomain of example.com; other entries are exact host names. */
const hostAllowed = (host: string, allowed: ReadonlyArray<string>) =>
  allowed.length === 0 ||
  allowed.some((entry) => (entry.startsWith("*.") ? host.endsWith(entry.slice(1)) : host === entry))

const hint = (kind: string) => (kind === "link-local" ? "" : " (CALLER_ALLOW_PRIVATE_NETWORKS=true allows it)")

export const check = (raw: string, policy: Policy = defaultPolicy): Verdict => {
  const url = URL.parse(raw.trim())
  if (url === null) return { _tag: "Invalid", message: `not an absolute URL: ${JSON.stringify(raw)}` }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { _tag: "Invalid", message: `only http and https URLs can be called, not ${url.protocol.slice(0, -1)}` }
  }
  if (url.hostname === "") return { _tag: "Invalid", message: "the URL has no host" }
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase()
  const kind = deniedKind(host, policy.denyPrivate)
  if (kind !== undefined) return { _tag: "Denied", message: `${host} is a ${kind} address${hint(kind)}` }
  if (!hostAllowed(host, policy.allowedHosts)) {
    return { _tag: "Denied", message: `${host} is not in CALLER_ALLOWED_HOSTS` }
  }
  return { _tag: "Allowed", url }
}

/** The error a connection gets when its name resolved into a denied range. */
export const DENIED_ADDRESS = "ECALLERDENIED"

/**
 * A `dns.lookup` for the HTTP client's sockets: a name that resolves into a denied range fails
 * the connection (after the URL check, so a DNS answer cannot smuggle one in). Every address of
 * the answer is judged: one denied address fails the name.
 */
export const makeLookup = (resolve: typeof dns.lookup, denyPrivate = true): typeof dns.lookup =>
  ((
    hostname: string,
    options: dns.LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ) =>
    resolve(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family)
      const addresses = Array.isArray(address) ? address.map((entry) => entry.address) : [address]
      for (const candidate of addresses) {
        const kind = deniedKind(candidate, denyPrivate)
        if (kind === undefined) continue
        const refusal: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to the ${kind} address ${candidate}${hint(kind)}`,
        )
        refusal.code = DENIED_ADDRESS
        return callback(refusal, address, family)
      }
      callback(null, address, family)
    })) as typeof dns.lookup

export const lookup = (denyPrivate: boolean) => makeLookup(dns.lookup, denyPrivate)
