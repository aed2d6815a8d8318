import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import * as Metrics from "@platform/shared/Metrics"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { Context, Effect, Layer, Ref, Schedule } from "effect"
import { parse as parseYaml } from "yaml"
import * as InProcess from "./InProcess.ts"
import * as PromQL from "./PromQL.ts"

/**
 * Every service's `GET /metrics`, scraped before and after a known amount of traffic through
 * the edge: each counter moved by exactly what was sent. Then the alert rules and the Grafana
 * dashboard are held against what the services export, metric by metric, label by label.
 */
const root = fileURLToPath(new URL("../../..", import.meta.url))
const read = (path: string) => readFileSync(join(root, path), "utf8")

const names: ReadonlyArray<InProcess.Name> = ["lang", "auth", "caller", "greeter", "gateway", "edge"]

type Scrapes = Record<InProcess.Name, PrometheusText.Scrape>

class World extends Context.Service<
  World,
  InProcess.Platform & { readonly token: string; readonly seen: Ref.Ref<ReadonlyArray<PrometheusText.Scrape>> }
>()("test/World") {}

const WorldLive = Layer.effect(
  World,
  Effect.gen(function* () {
    // Two consecutive failures open gateway's breaker: one retried call trips it.
    const platform = yield* InProcess.start({ env: { gateway: { GATEWAY_BREAKER_CONSECUTIVE_FAILURES: "2" } } })
    const token = yield* InProcess.signIn(platform.url.edge, "metrics@example.com")
    return { ...platform, token, seen: yield* Ref.make<ReadonlyArray<PrometheusText.Scrape>>([]) }
  }),
)

const scrapeAll = Effect.gen(function* () {
  const world = yield* World
  const scrapes = yield* Effect.forEach(
    names,
    (name) =>
      Effect.promise(async () => {
        const response = await fetch(`${world.url[name]}/metrics`)
        assert.strictEqual(response.status, 200, name)
        assert.strictEqual(response.headers.get("content-type"), Metrics.CONTENT_TYPE, name)
        return [name, PrometheusText.parse(await response.text())] as const
      }),
    { concurrency: "unbounded" },
  )
  yield* Ref.update(world.seen, (seen) => [...seen, ...scrapes.map(([, scrape]) => scrape)])
  return Object.fromEntries(scrapes) as Scrapes
})

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    })
    await response.arrayBuffer()
    return response.status
  })

layer(WorldLive, { excludeTestServices: true, timeout: "90 seconds" })("metrics", (it) => {
  it.effect("counters move by exactly the requests sent, on every service", () =>
    Effect.gen(function* () {
      const world = yield* World
      const edge = world.url.edge
      const before = yield* scrapeAll
      const bearer = { authorization: `Bearer ${world.token}` }

      // auth, through the edge: a registration, a login, a wrong password, a missing one.
      const credentials = { email: "counted@example.com", password: "correct horse battery" }
      assert.strictEqual(yield* post(`${edge}/auth/register`, credentials), 201)
      assert.strictEqual(yield* post(`${edge}/auth/login`, credentials), 200)
      assert.strictEqual(yield* post(`${edge}/auth/login`, { ...credentials, password: "wrong password!" }), 401)
      assert.strictEqual(yield* post(`${edge}/auth/login`, { email: credentials.email }), 400)
      // Three greetings: edge -> greeter -> caller (Effect RPC) -> the external stand-in.
      for (const name of ["Ada", "Grace", "Edsger"]) {
        assert.strictEqual(yield* post(`${edge}/greeter.v1.GreeterService/Greet`, { name }, bearer), 200)
      }
      // gateway -> lang: a success; a 503 retried once, which trips the breaker; a rejection.
      const invoke = (name: string) => post(`${edge}/gateway.v1.GatewayService/InvokeCustom`, { name }, bearer)
      assert.strictEqual(yield* invoke("Ada"), 200)
      assert.strictEqual(yield* invoke("unavailable"), 503)
      assert.strictEqual(yield* invoke("Ada"), 503)

      // caller writes its call logs off the request path: wait until they are in.
      const after = yield* scrapeAll.pipe(
        Effect.repeat({
          schedule: Schedule.spaced("50 millis"),
          until: (scrapes) =>
            PrometheusText.sum(scrapes.caller, "caller_call_logs_written_total") -
              PrometheusText.sum(before.caller, "caller_call_logs_written_total") >=
            3,
        }),
        Effect.timeout("5 seconds"),
      )
      const delta = (service: InProcess.Name, metric: string, labels: Record<string, string> = {}) =>
        PrometheusText.sum(after[service], metric, labels) - PrometheusText.sum(before[service], metric, labels)
      const http = (service: InProcess.Name, method: string, route: string, status: string) =>
        delta(service, "http_server_requests_total", { method, route, status })
      const rpc = (service: InProcess.Name, labels: Record<string, string>) =>
        delta(service, "rpc_server_requests_total", labels)
      const dbOk = (service: InProcess.Name, operation: string) =>
        delta(service, "db_client_operation_duration_seconds_count", { operation, outcome: "ok" })

      // edge: counted by the routing table's routes.
      assert.strictEqual(delta("edge", "http_server_requests_total", { route: "/auth/*" }), 4)
      assert.strictEqual(http("edge", "POST", "/greeter.v1.GreeterService/*", "200"), 3)
      assert.strictEqual(http("edge", "POST", "/gateway.v1.GatewayService/*", "200"), 1)
      assert.strictEqual(http("edge", "POST", "/gateway.v1.GatewayService/*", "503"), 2)
      // auth: every login by outcome, every route by status, and forward-auth's checks.
      assert.strictEqual(delta("auth", "auth_logins_total", { outcome: "success" }), 1)
      assert.strictEqual(delta("auth", "auth_logins_total", { outcome: "invalid_credentials" }), 1)
      assert.strictEqual(delta("auth", "auth_logins_total", { outcome: "invalid_request" }), 1)
      assert.strictEqual(delta("auth", "auth_logins_total"), 3)
      assert.strictEqual(http("auth", "POST", "/auth/register", "201"), 1)
      assert.strictEqual(http("auth", "POST", "/auth/login", "200"), 1)
      assert.strictEqual(http("auth", "POST", "/auth/login", "401"), 1)
      assert.strictEqual(http("auth", "POST", "/auth/login", "400"), 1)
      // Six requests with one token: auth is asked the first time, the others go on its kept yes
      // (EDGE_AUTH_CACHE_MS, one second; a slow run may ask again), and both sides say the same.
      const askedAuth = delta("edge", "edge_auth_verdicts_total", { source: "auth" })
      assert.strictEqual(askedAuth + delta("edge", "edge_auth_verdicts_total", { source: "kept" }), 6)
      assert.isAtLeast(askedAuth, 1)
      assert.strictEqual(http("auth", "GET", "/verify", "200"), askedAuth)
      assert.strictEqual(dbOk("auth", "UsersRepo.insert"), 1)
      // greeter: RPCs by code, the HTTP route they came on, the greetings recorded.
      const greet = { system: "connect_rpc", service: "greeter.v1.GreeterService", method: "Greet" }
      assert.strictEqual(rpc("greeter", { ...greet, code: "ok" }), 3)
      assert.strictEqual(rpc("greeter", greet), 3)
      assert.strictEqual(delta("greeter", "rpc_server_duration_seconds_count", { ...greet, code: "ok" }), 3)
      assert.strictEqual(http("greeter", "POST", "/greeter.v1.GreeterService/Greet", "200"), 3)
      assert.strictEqual(dbOk("greeter", "GreetingsRepo.insert"), 3)
      // caller: the Effect RPC calls, the call logs written, none left in the queue.
      const call = { system: "effect_rpc", service: "caller.Caller", method: "CallExternal" }
      assert.strictEqual(rpc("caller", { ...call, code: "ok" }), 3)
      // One Greet at a time: each call goes alone, in a request of its own, on the framed path.
      assert.strictEqual(http("caller", "POST", "/rpc/ndjson", "200"), 3)
      assert.strictEqual(delta("caller", "caller_call_logs_written_total"), 3)
      assert.strictEqual(PrometheusText.sum(after.caller, "caller_call_log_queue_depth"), 0)
      assert.strictEqual(dbOk("caller", "CallLogsRepo.insertMany") >= 1, true, "in one batch or more")
      // gateway: outcomes by code, one retry granted, the breaker's trip and its rejection.
      const invokeCustom = { system: "connect_rpc", service: "gateway.v1.GatewayService", method: "InvokeCustom" }
      assert.strictEqual(rpc("gateway", { ...invokeCustom, code: "ok" }), 1)
      assert.strictEqual(rpc("gateway", { ...invokeCustom, code: "unavailable" }), 2)
      const lang = { budget: "custom-lang-service" }
      assert.strictEqual(delta("gateway", "retry_budget_retries_total", lang), 1)
      assert.strictEqual(delta("gateway", "retry_budget_refused_total", lang), 0)
      const breaker = { breaker: "custom-lang-service" }
      assert.strictEqual(
        delta("gateway", "circuit_breaker_transitions_total", { ...breaker, from: "closed", to: "open" }),
        1,
      )
      assert.strictEqual(delta("gateway", "circuit_breaker_transitions_total", breaker), 1)
      assert.strictEqual(delta("gateway", "circuit_breaker_rejections_total", { ...breaker, reason: "open" }), 1)
      assert.strictEqual(PrometheusText.sum(after.gateway, "circuit_breaker_state", breaker), 2, "open")
      const tokens = PrometheusText.sum(after.gateway, "retry_budget_tokens", lang)
      assert.isTrue(tokens >= 19 && tokens <= 20, `${tokens} tokens: one taken, refilling at 10/s`)
      assert.strictEqual(dbOk("gateway", "InvocationsRepo.insert"), 3)
      // lang: one 200 and the two 503 attempts; each execution recorded.
      assert.strictEqual(http("lang", "POST", "/invoke", "200"), 1)
      assert.strictEqual(http("lang", "POST", "/invoke", "503"), 2)
      assert.strictEqual(dbOk("lang", "ExecutionsRepo.insert"), 3)
      // Nothing is left in flight once the traffic is over; the pool's size is published. auth's own
      // polls (revocations, signing keys) may be out at any scrape, so it is looked at again until
      // none is, for at most 2 s: an operation that never ends still fails this.
      for (const name of ["lang", "auth", "caller", "greeter", "gateway"] as const) {
        const inFlight = yield* Effect.promise(async () => {
          for (let look = 0; ; look++) {
            const text = await (await fetch(`${world.url[name]}/metrics`)).text()
            const count = PrometheusText.sum(PrometheusText.parse(text), "db_client_operations_in_flight")
            if (count === 0 || look === 20) return count
            await new Promise((resolve) => setTimeout(resolve, 100))
          }
        })
        assert.strictEqual(inFlight, 0, name)
        assert.strictEqual(PrometheusText.sum(after[name], "db_client_connections_max"), 10, name)
      }
    }),
  )

  it.effect("every metric the alert rules and the dashboard use is exported, with the labels they use", () =>
    Effect.gen(function* () {
      const world = yield* World
      if ((yield* Ref.get(world.seen)).length === 0) yield* scrapeAll
      const scrapes = yield* Ref.get(world.seen)
      // What the services export: each series name with the labels it carries.
      const exported = new Map<string, Set<string>>()
      for (const scrape of scrapes) {
        for (const name of PrometheusText.families(scrape)) if (!exported.has(name)) exported.set(name, new Set())
        for (const sample of scrape.samples) {
          for (const label of Object.keys(sample.labels)) exported.get(sample.name)?.add(label)
        }
      }
      // Prometheus adds these itself: `up` for every target, `job` and `instance` on every series.
      const synthesized = new Set(["up"])
      const targetLabels = new Set(["job", "instance", "namespace", "pod"])
      const allLabels = new Set([...exported.values()].flatMap((labels) => [...labels]))

      const check = (where: string, expr: string) => {
        const query = PromQL.parse(PromQL.withoutGrafanaVariables(expr))
        assert.deepStrictEqual(query.errors, [], `${where} parses: ${expr}`)
        assert.isNotEmpty(query.selectors, `${where} reads a metric`)
        for (const selector of query.selectors) {
          if (synthesized.has(selector.metric)) continue
          const labels = exported.get(selector.metric)
          assert.isDefined(labels, `${where}: ${selector.metric} is exported by a service`)
          for (const label of selector.labels) {
            assert.isTrue(targetLabels.has(label) || labels?.has(label), `${where}: ${selector.metric} has ${label}`)
          }
        }
        for (const label of query.grouping) {
          assert.isTrue(targetLabels.has(label) || allLabels.has(label), `${where}: some series has ${label}`)
        }
      }

      const rules = parseYaml(read("deploy/observability/prometheus/alerts.yml")) as {
        groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string }> }>
      }
      const alerts = rules.groups.flatMap((group) => group.rules)
      assert.includeMembers(
        alerts.map((rule) => rule.alert),
        ["CircuitBreakerOpen", "HighHttpErrorRatio", "HighRpcErrorRatio", "HighLatencyP99"],
      )
      assert.strictEqual(alerts.find((rule) => rule.alert === "CircuitBreakerOpen")?.for, "1m")
      for (const rule of alerts) check(`alert ${rule.alert}`, rule.expr)

      const dashboard = JSON.parse(read("deploy/observability/grafana/dashboards/platform.json")) as {
        panels: Array<{ title: string; type: string; datasource?: { uid: string }; targets?: Array<{ expr: string }> }>
      }
      const datasources = parseYaml(read("deploy/observability/grafana/datasources.yml")) as {
        datasources: Array<{ uid: string }>
      }
      const uids = new Set(datasources.datasources.map((source) => source.uid))
      const queried = dashboard.panels.filter((panel) => panel.type !== "row")
      assert.isAtLeast(queried.length, 10)
      for (const panel of queried) {
        assert.isTrue(uids.has(panel.datasource?.uid ?? ""), `${panel.title}: a provisioned data source`)
        assert.isNotEmpty(panel.targets ?? [], panel.title)
        for (const target of panel.targets ?? []) check(`panel "${panel.title}"`, target.expr)
      }
      // The dashboard shows what the issue asks for: RED per service, the breaker, the budget.
      const exprs = queried.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)).join("\n")
      for (const metric of [
        "http_server_requests_total",
        "http_server_request_duration_seconds_bucket",
        "circuit_breaker_state",
        "retry_budget_tokens",
      ]) {
        assert.include(exprs, metric)
      }
    }),
  )
})
