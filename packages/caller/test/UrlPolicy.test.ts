import type * as dns from "node:dns"
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as UrlPolicy from "../src/UrlPolicy.ts"

const open: UrlPolicy.Policy = { denyPrivate: false, allowedHosts: [] }
const strict = UrlPolicy.defaultPolicy

/** Every internal address an attack pass fetched through the original caller, in its spellings. */
const internalUrls = [
  "http://127.0.0.1:9090/metrics",
  "http://127.1/",
  "http://0x7f000001/",
  "http://2130706433/",
  "http://0177.0.0.1/",
  "http://127.0.0.1./",
  "http://user:pw@127.0.0.1/",
  "http://0.0.0.0/",
  "http://0/",
  "http://[::1]/",
  "http://[::]/",
  "http://[::ffff:127.0.0.1]/",
  "http://[::ffff:7f00:1]/",
  "http://[0:0:0:0:0:ffff:127.0.0.1]/",
  "http://[::127.0.0.1]/",
  "http://10.0.0.1/",
  "http://172.16.5.4/",
  "http://172.31.255.255/",
  "http://192.168.1.1/",
  "http://100.64.0.1/",
  "http://[fc00::1]/",
  "http://[fd12:3456::1]/",
  "http://[64:ff9b::7f00:1]/",
  "http://224.0.0.1/",
]

const linkLocalUrls = [
  "http://169.254.169.254/latest/meta-data/",
  "http://169.254.0.1/",
  "http://[fe80::1]/",
  "http://[::ffff:169.254.169.254]/",
  "http://[fd00:ec2::254]/",
  "http://0xa9.0xfe.0xa9.0xfe/",
  "http://2852039166/",
]

describe("UrlPolicy", () => {
  it("accepts absolute http and https URLs on public hosts", () => {
    for (const url of [
      "http://example.com",
      "https://example.com:8443/a?b=c",
      "http://93.184.216.34/",
      "http://[2606:4700::1111]/",
    ]) {
      assert.strictEqual(UrlPolicy.check(url, strict)._tag, "Allowed", url)
    }
  })

  it("refuses what is not an absolute http(s) URL as invalid", () => {
    for (const url of [
      "",
      "example.com",
      "/relative",
      "ftp://example.com/x",
      "file:///etc/passwd",
      "javascript:alert(1)",
    ]) {
      assert.strictEqual(UrlPolicy.check(url, strict)._tag, "Invalid", url)
    }
  })

  it("denies link-local addresses in every spelling, even with private networks allowed", () => {
    for (const url of linkLocalUrls) {
      for (const policy of [strict, open]) {
        const verdict = UrlPolicy.check(url, policy)
        assert.strictEqual(verdict._tag, "Denied", url)
        assert.match(verdict._tag === "Denied" ? verdict.message : "", /link-local address$/, url)
      }
    }
  })

  it("denies loopback, unspecified, private, shared, unique-local and reserved addresses, naming which", () => {
    for (const url of internalUrls) {
      const verdict = UrlPolicy.check(url, strict)
      assert.strictEqual(verdict._tag, "Denied", url)
      assert.match(
        verdict._tag === "Denied" ? verdict.message : "",
        / is an? (loopback|unspecified|private|shared \(carrier-grade NAT\)|unique-local|reserved) address \(CALLER_ALLOW_PRIVATE_NETWORKS=true allows it\)$/,
        url,
      )
    }
    assert.strictEqual(
      (UrlPolicy.check("http://127.0.0.1:9090/metrics", strict) as { message: string }).message,
      "127.0.0.1 is a loopback address (CALLER_ALLOW_PRIVATE_NETWORKS=true allows it)",
    )
  })

  it("CALLER_ALLOW_PRIVATE_NETWORKS lets the internal ones through", () => {
    for (const url of internalUrls) assert.strictEqual(UrlPolicy.check(url, open)._tag, "Allowed", url)
  })

  it("with an allowlist, only the listed hosts (and *. subdomains) pass", () => {
    const allowed = { ...strict, allowedHosts: ["example.com", "*.internal.test"] }
    assert.strictEqual(UrlPolicy.check("https://example.com/", allowed)._tag, "Allowed")
    assert.strictEqual(UrlPolicy.check("https://api.internal.test/", allowed)._tag, "Allowed")
    assert.strictEqual(UrlPolicy.check("https://evil.com/", allowed)._tag, "Denied")
    assert.strictEqual(UrlPolicy.check("https://example.com.evil.com/", allowed)._tag, "Denied")
    assert.strictEqual(UrlPolicy.check("https://internal.test/", allowed)._tag, "Denied")
  })

  it("property: any input gets a verdict, never an exception; private and loopback IPv4 are always denied", () => {
    fc.assert(
      fc.property(fc.string(), (input) =>
        ["Allowed", "Invalid", "Denied"].includes(UrlPolicy.check(input, strict)._tag),
      ),
    )
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        const [a = 0, b = 0] = address.split(".").map(Number)
        const internal =
          a === 0 ||
          a === 10 ||
          a === 127 ||
          (a === 169 && b === 254) ||
          (a === 172 && b >= 16 && b <= 31) ||
          (a === 192 && b === 168) ||
          (a === 100 && b >= 64 && b <= 127)
        // The rest of the reserved ranges are denied too: only claim what this model knows.
        return !internal || UrlPolicy.deniedKind(address) !== undefined
      }),
    )
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        // Mapped into IPv6, an address is judged as itself.
        return UrlPolicy.deniedKind(`::ffff:${address}`) === UrlPolicy.deniedKind(address)
      }),
    )
  })

  it("a DNS name that resolves to a denied address fails the connection, whichever address of the answer it is", async () => {
    const resolveTo = (addresses: ReadonlyArray<string>): typeof dns.lookup =>
      ((_host: string, _options: dns.LookupOptions, callback: (e: null, a: Array<dns.LookupAddress>) => void) =>
        callback(
          null,
          addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })),
        )) as typeof dns.lookup
    const attempt = (addresses: ReadonlyArray<string>, denyPrivate = true) =>
      new Promise<NodeJS.ErrnoException | null>((resolve) =>
        UrlPolicy.makeLookup(resolveTo(addresses), denyPrivate)("service.example", { all: true }, (error) =>
          resolve(error),
        ),
      )
    const refused = await attempt(["169.254.169.254"])
    assert.strictEqual(refused?.code, UrlPolicy.DENIED_ADDRESS)
    assert.include(refused?.message, "service.example resolves to the link-local address 169.254.169.254")
    const local = await attempt(["93.184.216.34", "127.0.0.1"])
    assert.include(local?.message, "service.example resolves to the loopback address 127.0.0.1")
    assert.isNull(await attempt(["127.0.0.1"], false))
    assert.isNull(await attempt(["93.184.216.34"]))
  })
})
