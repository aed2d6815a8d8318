import { assert, describe, it } from "@effect/vitest"
import { ApiCatalog, ServiceMap, TraceDetail, TraceList } from "@platform/contracts/DashboardApi"
import { Schema } from "effect"
import { postJson, startRunner } from "./support.ts"

/**
 * `./platform start` with no collector of its own: every service sends its traces to the
 * dashboard the runner serves, which the console reads through the edge (`/platform/`, signed
 * in): the services map, and a Greet's trace across every hop within seconds.
 */
const poll = async <A>(read: () => Promise<A | undefined>, timeoutMs: number, what: string): Promise<A> => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const found = await read()
    if (found !== undefined) return found
    if (Date.now() > until) throw new Error(`${what} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe("./platform start's dashboard: the services map and traces, for the console", () => {
  it("six services up with their databases; a Greet's trace, every hop, within 5 s; only signed in", async () => {
    // Every port below the ephemeral range (32768), where no other test's free port can land.
    const offset = 2_000
    const { running, cleanup } = startRunner({ PLATFORM_PORT_OFFSET: String(offset) })
    try {
      await running.waitFor((line) => String(line.message ?? "").startsWith("platform ready"), 90_000)
      const edge = `http://127.0.0.1:${30081 + offset}`
      const account = { email: "dashboard@example.com", password: "correct horse battery" }
      assert.strictEqual((await postJson(`${edge}/auth/register`, account)).status, 201)
      const bearer = { authorization: `Bearer ${String((await postJson(`${edge}/auth/login`, account)).body.token)}` }
      const get = (path: string, headers: Record<string, string> = bearer) =>
        fetch(`${edge}${path}`, { headers }).then(async (response) => ({
          status: response.status,
          text: await response.text(),
        }))

      assert.strictEqual((await get("/platform/services", {})).status, 401, "forward-auth guards it")

      const map = await poll(
        async () => {
          const answer = Schema.decodeUnknownSync(Schema.fromJsonString(ServiceMap))(
            (await get("/platform/services")).text,
          )
          return answer.services.every((service) => service.health === "up") ? answer : undefined
        },
        10_000,
        "every service up",
      )
      assert.sameMembers(
        map.services.map((service) => service.name),
        ["lang", "auth", "caller", "greeter", "gateway", "edge"],
      )
      for (const service of map.services.filter((s) => s.name !== "edge")) {
        assert.strictEqual(service.database?.state, "up", `${service.name}'s database`)
      }
      assert.deepStrictEqual(map.services.find((s) => s.name === "greeter")?.calls, ["caller"])

      // The console's way: a trace id of its own in traceparent, then the trace by that id.
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const sent = Date.now()
      const greet = await postJson(
        `${edge}/greeter.v1.GreeterService/Greet`,
        { name: "Ada" },
        {
          ...bearer,
          traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        },
      )
      assert.strictEqual(greet.status, 200)
      const detail = await poll(
        async () => {
          const answer = await get(`/platform/traces/${traceId}`)
          if (answer.status !== 200) return undefined
          const trace = Schema.decodeUnknownSync(Schema.fromJsonString(TraceDetail))(answer.text)
          const services = new Set(trace.spans.map((span) => span.service))
          // auth's span, or the edge's word that it let the token through on auth's kept yes
          // (the map above was read with the same token a moment ago).
          const decided =
            services.has("auth-service") ||
            trace.spans.some((span) => span.service === "edge" && span.attributes["edge.auth.verdict"] === "kept")
          return decided && ["edge", "greeter-service", "caller-service"].every((s) => services.has(s))
            ? trace
            : undefined
        },
        5_000,
        "the Greet's trace with spans of edge, greeter and caller, and auth's verdict",
      )
      assert.isBelow(Date.now() - sent, 5_000)
      assert.strictEqual(detail.summary.status, 200)
      assert.isTrue(detail.spans.some((span) => span.service === "caller-service" && span.name === "GET"))
      const list = Schema.decodeUnknownSync(Schema.fromJsonString(TraceList))((await get("/platform/traces")).text)
      assert.include(
        list.traces.map((trace) => trace.traceId),
        traceId,
      )
      assert.isTrue(
        list.traces.every((trace) => trace.name !== "GET /*"),
        "the console's own files are not listed",
      )
      // The API explorer: every REST endpoint from the services' OpenAPI documents, and a call
      // to lang, which the edge does not route, on the console's behalf.
      const catalog = Schema.decodeUnknownSync(Schema.fromJsonString(ApiCatalog))((await get("/platform/apis")).text)
      const listed = catalog.endpoints.map((endpoint) => `${endpoint.service} ${endpoint.method} ${endpoint.path}`)
      for (const expected of [
        "lang POST /invoke",
        "auth POST /auth/login",
        "auth GET /verify",
        "gateway GET /resilience",
      ]) {
        assert.include(listed, expected)
      }
      const call = (payload: unknown) => postJson(`${edge}/platform/call`, payload, bearer)
      const invoked = await call({
        service: "lang",
        method: "POST",
        path: "/invoke",
        headers: { "content-type": "application/json" },
        body: '{"name":"Ada"}',
      })
      assert.strictEqual(invoked.status, 200)
      assert.strictEqual(invoked.body.status, 200)
      assert.deepStrictEqual(JSON.parse(String(invoked.body.body)), { message: "Hello Ada from custom-lang-service!" })
      const unknown = await call({ service: "postgres", method: "GET", path: "/", headers: {}, body: null })
      assert.strictEqual(unknown.status, 404)
      const elsewhere = await call({ service: "lang", method: "GET", path: "//example.com/", headers: {}, body: null })
      assert.strictEqual(elsewhere.status, 400, "a path, never another host")
      const backslash = await call({ service: "lang", method: "GET", path: "/\\example.com/", headers: {}, body: null })
      assert.strictEqual(backslash.status, 400, "nor one a URL parser reads as a host")

      const missing = await get("/platform/traces/00000000000000000000000000000000")
      assert.deepStrictEqual(
        [missing.status, JSON.parse(missing.text)],
        [404, { _tag: "TraceNotFound", error: "trace not found" }],
      )
    } finally {
      if (running.child.exitCode === null) running.child.kill("SIGINT")
      await running.exited
      cleanup()
    }
  }, 120_000)
})
