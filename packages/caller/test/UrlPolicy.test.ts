import type * as dns from "node:dns"
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as UrlPolicy from "../src/UrlPolicy.ts"

describe("UrlPolicy", () => {
  it("accepts absolute http and https URLs", () => {
    for (const url of [
      "http://example.com",
      "https://example.com:8443/a?b=c",
      "http://127.0.0.1:9/x",
      "http://[::1]/",
    ]) {
      assert.strictEqual(UrlPolicy.check(url, [])._tag, "Allowed", url)
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
      assert.strictEqual(UrlPolicy.check(url, [])._tag, "Invalid", url)
    }
  })

  it("denies link-local addresses in every spelling", () => {
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://169.254.0.1/",
      "http://[fe80::1]/",
      "http://[::ffff:169.254.169.254]/",
      "http://[fd00:ec2::254]/",
      "http://0xa9.0xfe.0xa9.0xfe/",
      "http://2852039166/",
    ]) {
      assert.strictEqual(UrlPolicy.check(url, [])._tag, "Denied", url)
    }
  })

  it("with an allowlist, only the listed hosts (and *. subdomains) pass", () => {
    const allowed = ["example.com", "*.internal.test"]
    assert.strictEqual(UrlPolicy.check("https://example.com/", allowed)._tag, "Allowed")
    assert.strictEqual(UrlPolicy.check("https://api.internal.test/", allowed)._tag, "Allowed")
    assert.strictEqual(UrlPolicy.check("https://evil.com/", allowed)._tag, "Denied")
    assert.strictEqual(UrlPolicy.check("https://example.com.evil.com/", allowed)._tag, "Denied")
    assert.strictEqual(UrlPolicy.check("https://internal.test/", allowed)._tag, "Denied")
  })

  it("property: any input gets a verdict, never an exception, and link-local IPv4 is always denied", () => {
    fc.assert(
      fc.property(fc.string(), (input) => ["Allowed", "Invalid", "Denied"].includes(UrlPolicy.check(input, [])._tag)),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        (c, d) => UrlPolicy.check(`http://169.254.${c}.${d}:8080/x`, [])._tag === "Denied",
      ),
    )
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        const linkLocal = address.startsWith("169.254.")
        return UrlPolicy.isDeniedAddress(address) === linkLocal
      }),
    )
  })

  it("a DNS name that resolves to a link-local address fails the connection", async () => {
    const resolveTo = (address: string): typeof dns.lookup =>
      ((_host: string, _options: dns.LookupOptions, callback: (e: null, a: string, f: number) => void) =>
        callback(null, address, 4)) as typeof dns.lookup
    const attempt = (address: string) =>
      new Promise<NodeJS.ErrnoException | null>((resolve) =>
        UrlPolicy.makeLookup(resolveTo(address))("metadata.example", {}, (error) => resolve(error)),
      )
    const refused = await attempt("169.254.169.254")
    assert.strictEqual(refused?.code, UrlPolicy.DENIED_ADDRESS)
    assert.include(refused?.message, "metadata.example resolves to the link-local address 169.254.169.254")
    assert.isNull(await attempt("93.184.216.34"))
  })
})
