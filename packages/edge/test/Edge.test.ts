import { assert, describe, it } from "@effect/vitest"
import { teamServices } from "@platform/contracts/TeamServices"
import { ConfigProvider, Effect } from "effect"
import { config } from "../src/Config.ts"
import * as Cors from "../src/middleware/Cors.ts"
import { RateLimiter } from "../src/middleware/RateLimit.ts"
import { match, routes, settings, teamRoute } from "../src/Routes.ts"

describe("routing table", () => {
  it("longest prefix wins, as Traefik's rule priority", () => {
    assert.strictEqual(match("/greeter.v1.GreeterService/Greet")?.name, "greeter")
    assert.strictEqual(match("/gateway.v1.GatewayService/InvokeCustom")?.name, "gateway")
    assert.strictEqual(match("/auth/login")?.name, "auth")
    assert.strictEqual(match("/index.html")?.name, "web")
    assert.strictEqual(match("/")?.name, "web")
    // PathPrefix is a string prefix: Traefik routes /authorize to auth too.
    assert.strictEqual(match("/authorize")?.name, "auth")
  })

  it("the contract's middlewares, in the contract's order, and the console's own route", () => {
    const contract = routes.filter((route) => !teamServices.some((service) => service.name === route.name))
    assert.deepStrictEqual(Object.fromEntries(contract.map((route) => [route.prefix, route.middlewares])), {
      "/greeter.v1.GreeterService": ["cors", "auth", "rate-limit", "retry"],
      "/gateway.v1.GatewayService": ["cors", "auth", "rate-limit"],
      "/auth": ["cors", "rate-limit"],
      // Not in the contract: the console's view of the gateway's breaker, signed in like Greet.
      "/resilience": ["cors", "auth", "rate-limit"],
      "/": [],
    })
  })

  it("a team's service: behind forward-auth unless public, over h2c when it speaks Connect, before the console", () => {
    const rest = {
      name: "orders",
      kind: "rest",
      port: 8095,
      route: "/orders",
      public: false,
      database: "orders_db",
    } as const
    assert.deepStrictEqual(teamRoute(rest), {
      name: "orders",
      prefix: "/orders",
      upstream: "orders",
      h2c: false,
      middlewares: ["cors", "auth", "rate-limit"],
    })
    assert.deepStrictEqual(teamRoute({ ...rest, kind: "connect", public: true }).middlewares, ["cors", "rate-limit"])
    assert.isTrue(teamRoute({ ...rest, kind: "connect" }).h2c)
    assert.strictEqual(routes.at(-1)?.prefix, "/")
  })
})

describe("CORS", () => {
  const allowed = { origins: ["http://localhost:30081"], headers: settings.cors.headers }
  it("a preflight from an allowed origin gets the contract's lists and max age", () => {
    const headers = { origin: "http://localhost:30081", "access-control-request-method": "POST" }
    assert.isTrue(Cors.isPreflight("OPTIONS", headers))
    assert.deepStrictEqual(Cors.preflightHeaders(headers, allowed), {
      "access-control-allow-methods": "GET,POST,OPTIONS",
      "access-control-allow-headers":
        "Content-Type,Authorization,Connect-Protocol-Version,Connect-Timeout-Ms,Grpc-Timeout,X-Grpc-Web,X-User-Agent," +
        "Idempotency-Key,traceparent,tracestate,baggage",
      "access-control-max-age": "7200",
      vary: "Origin",
      "access-control-allow-origin": "http://localhost:30081",
    })
  })

  it("other origins get no allow-origin; every answer varies by Origin", () => {
    const headers = { origin: "http://evil.example" }
    assert.notProperty(Cors.preflightHeaders(headers, allowed), "access-control-allow-origin")
    assert.deepStrictEqual(Cors.responseHeaders(headers, allowed), { vary: "Origin" })
    assert.deepStrictEqual(Cors.responseHeaders({ origin: "http://localhost:30081" }, allowed), {
      vary: "Origin",
      "access-control-allow-origin": "http://localhost:30081",
      "access-control-expose-headers": "Grpc-Status,Grpc-Message,Grpc-Status-Details-Bin,WWW-Authenticate",
    })
    assert.isFalse(Cors.isPreflight("OPTIONS", {}), "an OPTIONS without CORS headers is a request")
  })
})

describe("configuration", () => {
  it.effect("EDGE_CORS_HEADERS replaces the allowed request headers; by default the table's", () =>
    Effect.gen(function* () {
      const read = (env: Record<string, string>) => config.parse(ConfigProvider.fromEnv({ env }))
      assert.deepStrictEqual((yield* read({})).corsHeaders, settings.cors.headers)
      assert.deepStrictEqual((yield* read({ EDGE_CORS_HEADERS: "Content-Type, X-Tenant ," })).corsHeaders, [
        "Content-Type",
        "X-Tenant",
      ])
    }),
  )
})

describe("rate limit", () => {
  it("per client: a burst of 50, then 100 a second on average", () => {
    const limiter = new RateLimiter(100, 50)
    const t0 = 1_000_000
    let allowed = 0
    for (let i = 0; i < 80; i++) if (limiter.allow("10.0.0.1", t0)) allowed++
    assert.strictEqual(allowed, 50)
    assert.isTrue(limiter.allow("10.0.0.2", t0), "another client has its own bucket")
    assert.isFalse(limiter.allow("10.0.0.1", t0 + 5))
    assert.isTrue(limiter.allow("10.0.0.1", t0 + 10), "one token every 10 ms")
    let later = 0
    for (let i = 0; i < 200; i++) if (limiter.allow("10.0.0.1", t0 + 1010)) later++
    assert.strictEqual(later, 50, "never more than the burst, however long the wait")
  })
})
