import * as dns from "node:dns"
import * as net from "node:net"

/**
 * What caller may fetch. The original is an open fetch proxy; ours refuses link-local addresses
 * (169.254.0.0/16 and fe80::/10: the cloud metadata endpoint lives there) whether the URL names
 * them literally or a DNS name resolves to them, and, when `CALLER_ALLOWED_HOSTS` is set, any
 * host outside that list.
 */

const linkLocal = new net.BlockList()
linkLocal.addSubnet("169.254.0.0", 16, "ipv4")
linkLocal.addSubnet("fe80::", 10, "ipv6")
// AWS's IPv6 instance metadata endpoint is not link-local, but serves the same secrets.
linkLocal.addAddress("fd00:ec2::254", "ipv6")

/** An address in a denied range, IPv4-mapped IPv6 included. */
export const isDeniedAddress = (address: string): boolean => {
  const mapped = address.match(/^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i)?.[1]
  if (mapped !== undefined) return linkLocal.check(mapped, "ipv4")
  const family = net.isIP(address)
  if (family === 4) return linkLocal.check(address, "ipv4")
  if (family === 6) return linkLocal.check(address, "ipv6")
  return false
}

export type Verdict =
  | { readonly _tag: "Allowed"; readonly url: URL }
  | { readonly _tag: "Invalid"; readonly message: string }
  | { readonly _tag: "Denied"; readonly message: string }

/** `*.example.com` allows every subdomain of example.com; other entries are exact host names. */
const hostAllowed = (host: string, allowed: ReadonlyArray<string>) =>
  allowed.length === 0 ||
  allowed.some((entry) => (entry.startsWith("*.") ? host.endsWith(entry.slice(1)) : host === entry))

export const check = (raw: string, allowedHosts: ReadonlyArray<string>): Verdict => {
  const url = URL.parse(raw.trim())
  if (url === null) return { _tag: "Invalid", message: `not an absolute URL: ${JSON.stringify(raw)}` }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { _tag: "Invalid", message: `only http and https URLs can be called, not ${url.protocol.slice(0, -1)}` }
  }
  if (url.hostname === "") return { _tag: "Invalid", message: "the URL has no host" }
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase()
  if (isDeniedAddress(host)) return { _tag: "Denied", message: `${host} is a link-local address` }
  if (!hostAllowed(host, allowedHosts)) return { _tag: "Denied", message: `${host} is not in CALLER_ALLOWED_HOSTS` }
  return { _tag: "Allowed", url }
}

/** The error a connection gets when its name resolved into a denied range. */
export const DENIED_ADDRESS = "ECALLERDENIED"

/**
 * A `dns.lookup` for the HTTP client's sockets: a name that resolves to a link-local address
 * fails the connection (after the URL check, so a DNS answer cannot smuggle one in).
 */
export const makeLookup = (resolve: typeof dns.lookup): typeof dns.lookup =>
  ((
    hostname: string,
    options: dns.LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ) =>
    resolve(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family)
      const addresses = Array.isArray(address) ? address.map((entry) => entry.address) : [address]
      const denied = addresses.find(isDeniedAddress)
      if (denied === undefined) return callback(null, address, family)
      const refusal: NodeJS.ErrnoException = new Error(`${hostname} resolves to the link-local address ${denied}`)
      refusal.code = DENIED_ADDRESS
      callback(refusal, address, family)
    })) as typeof dns.lookup

export const lookup = makeLookup(dns.lookup)
