import * as http from "node:http"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { createClient } from "@connectrpc/connect"
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node"
import { assert, describe, layer } from "@effect/vitest"
import { GatewayService } from "@platform/proto-compat/gateway/v1"
import { service } from "@platform/testkit/Processes"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql"

/**
 * The black box: lang and gateway as a user starts them (`node src/main.ts`), on PostgreSQL,
 * with short breaker times, seen only through their wire and their tables.
 */
const langMain = fileURLToPath(new URL("../../lang/src/main.ts", import.meta.url))
const gatewayMain = fileURLToPath(new URL("../src/main.ts", import.meta.url))

const BREAKER_TIMEOUT_MS = 1500

interface World {
  readonly lang: string
  readonly langDatabase: URL
  /** A proxy in front of lang that holds every request for `delay.ms` before passing it on. */
  readonly delay: { ms: number }
  /** Breaker only: no retry budget, so one call is one attempt. */
  readonly gateway: string
  readonly gatewayDatabase: URL
  /** Retries only: a breaker that never trips, a budget of 5 refilled at 2/s. */
  readonly stormGateway: string
  /** Behind the delaying proxy. */
  readonly slowGateway: string
  /** Retries only, from a ratio budget: 20 % of the last 2 s's requests plus 2/s. */
  readonly ratioGateway: string
  /** Behind the delaying proxy, a bulkhead of 3 running and 2 waiting; no breaker, no retries. */
  readonly bulkheadGateway: string
  /** In front of a stand-in lang that notes each request's x-request-timeout-ms. */
  readonly captureGateway: string
  readonly captured: Array<string | undefined>
  readonly retryCalls: Array<{ name: string; at: number }>
}
class WorldUnderTest extends Context.Service<WorldUnderTest, World>()("test/World") {}

const delayingProxy = (target: string, delay: { ms: number }) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<net.Server>((resolve) => {
          const { port } = new URL(target)
          const server = net.createServer((client) => {
            const upstream = net.connect(Number(port), "127.0.0.1")
            client.on("data", (chunk) => setTimeout(() => upstream.write(chunk), delay.ms))
            client.on("end", () => setTimeout(() => upstream.end(), delay.ms))
            upstream.pipe(client)
            client.on("error", () => upstream.destroy())
            upstream.on("error", () => client.destroy())
          })
          server.listen(0, "127.0.0.1", () => resolve(server))
        }),
    ),
    (server) => Effect.sync(() => server.close()),
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`))

/**
 * A stand-in lang: answers every invoke, noting its `x-request-timeout-ms`; a name
 * `retry-after-<s>` is answered 503 with `Retry-After: <s>`, and the time of each such call noted.
 */
const capturingLang = (captured: Array<string | undefined>, retryCalls: Array<{ name: string; at: number }>) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<http.Server>((resolve) => {
          const server = http.createServer((request, response) => {
            const chunks: Array<Buffer> = []
            request.on("data", (chunk: Buffer) => chunks.push(chunk))
            request.on("end", () => {
              const { name } = JSON.parse(Buffer.concat(chunks).toString()) as { name: string }
              const after = /^retry-after-(\d+)$/.exec(name)
              if (after !== null) {
                retryCalls.push({ name, at: Date.now() })
                response.writeHead(503, { "content-type": "application/json", "retry-after": after[1] })
                response.end(JSON.stringify({ error: "service unavailable" }))
                return
              }
              captured.push(request.headers["x-request-timeout-ms"] as string | undefined)
              response.writeHead(200, { "content-type": "application/json" })
              response.end(JSON.stringify({ message: "captured" }))
            })
          })
          server.listen(0, "127.0.0.1", () => resolve(server))
        }),
    ),
    (server) => Effect.sync(() => server.close()),
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`))

const WorldLive = Layer.effect(
  WorldUnderTest,
  Effect.gen(function* () {
    const langDatabase = yield* TestDatabase.freshDatabase("gw_lang")
    const gatewayDatabase = yield* TestDatabase.freshDatabase("gw_gateway")
    const lang = yield* service(langMain, { DATABASE_URL: langDatabase.href })
    const delay = { ms: 0 }
    const slowLang = yield* delayingProxy(lang, delay)
    const short = {
      GATEWAY_BREAKER_TIMEOUT_MS: String(BREAKER_TIMEOUT_MS),
      GATEWAY_BREAKER_INTERVAL_MS: "60000",
    }
    const captured: Array<string | undefined> = []
    const retryCalls: Array<{ name: string; at: number }> = []
    const standIn = yield* capturingLang(captured, retryCalls)
    const [gateway, stormGateway, slowGateway, ratioGateway, bulkheadGateway, captureGateway] = yield* Effect.all(
      [
        service(gatewayMain, {
          CUSTOM_LANG_BASE_URL: lang,
          DATABASE_URL: gatewayDatabase.href,
          GATEWAY_RETRY_BUDGET_CAPACITY: "0",
          GATEWAY_RETRY_BUDGET_REFILL_PER_SECOND: "0",
          ...short,
        }),
        service(gatewayMain, {
          CUSTOM_LANG_BASE_URL: lang,
          GATEWAY_BREAKER_CONSECUTIVE_FAILURES: "1000000",
          GATEWAY_RETRY_BUDGET_CAPACITY: "5",
          GATEWAY_RETRY_BUDGET_REFILL_PER_SECOND: "2",
        }),
        service(gatewayMain, { CUSTOM_LANG_BASE_URL: slowLang, ...short }),
        service(gatewayMain, {
          CUSTOM_LANG_BASE_URL: lang,
          GATEWAY_BREAKER_CONSECUTIVE_FAILURES: "1000000",
          GATEWAY_RETRY_BUDGET_MODE: "ratio",
          GATEWAY_RETRY_BUDGET_RATIO: "0.2",
          GATEWAY_RETRY_BUDGET_MIN_PER_SECOND: "2",
          GATEWAY_RETRY_BUDGET_WINDOW_MS: "2000",
        }),
        service(gatewayMain, {
          CUSTOM_LANG_BASE_URL: slowLang,
          GATEWAY_BREAKER_CONSECUTIVE_FAILURES: "1000000",
          GATEWAY_RETRY_BUDGET_CAPACITY: "0",
          GATEWAY_LANG_MAX_CONCURRENT: "3",
          GATEWAY_LANG_MAX_QUEUED: "2",
        }),
        service(gatewayMain, { CUSTOM_LANG_BASE_URL: standIn }),
      ],
      { concurrency: "unbounded" },
    )
    return {
      lang,
      langDatabase,
      delay,
      gateway,
      gatewayDatabase,
      stormGateway,
      slowGateway,
      ratioGateway,
      bulkheadGateway,
      captureGateway,
      captured,
      retryCalls,
    }
  }),
)

type Answer =
  | { readonly ok: true; readonly message: string }
  | { readonly ok: false; readonly code: string; readonly message: string }

/** InvokeCustom as a browser sends it (Connect JSON). */
const invoke = (base: string, name: string, headers: Record<string, string> = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(`${base}/gateway.v1.GatewayService/InvokeCustom`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ name }),
    })
    const body = (await response.json()) as { message?: string; code?: string }
    return response.ok
      ? { ok: true, message: body.message ?? "" }
      : { ok: false, code: body.code ?? "", message: body.message ?? "" }
  })

const resilience = (base: string) =>
  Effect.promise(async () => (await (await fetch(`${base}/resilience`)).json()) as { breaker: { state: string } })

const count = (database: URL, query: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`${sql.unsafe(query)}`).pipe(
    Effect.map((rows) => rows[0]?.n ?? 0),
    Effect.provide(TestDatabase.sqlClient(database)),
  )

const executions = (name: string) =>
  Effect.flatMap(WorldUnderTest, (world) =>
    count(world.langDatabase, `SELECT count(*)::int AS n FROM executions WHERE name = '${name.replaceAll("'", "''")}'`),
  )

layer(WorldLive, { excludeTestServices: true, timeout: "120 seconds" })("gateway and lang, black box", (it) => {
  it.effect(
    "5 failures trip the breaker; open fails at once without lang; half-open admits maxRequests; successes close",
    () =>
      Effect.gen(function* () {
        const world = yield* WorldUnderTest
        for (let i = 0; i < 5; i++) {
          const answer = yield* invoke(world.gateway, "unavailable")
          assert.deepStrictEqual(answer, {
            ok: false,
            code: "unavailable",
            message: "custom-lang-service returned 503: service unavailable",
          })
        }
        assert.strictEqual(yield* executions("unavailable"), 5)
        assert.strictEqual((yield* resilience(world.gateway)).breaker.state, "open")

        const started = Date.now()
        const rejected = yield* invoke(world.gateway, "while-open")
        assert.deepStrictEqual(rejected, { ok: false, code: "unavailable", message: "circuit breaker is open" })
        assert.isBelow(Date.now() - started, 500)
        assert.strictEqual(yield* executions("while-open"), 0, "lang never saw it")

        // Half-open after the timeout; maxRequests (3) consecutive successes close it.
        yield* Effect.sleep(`${BREAKER_TIMEOUT_MS + 100} millis`)
        assert.strictEqual((yield* resilience(world.gateway)).breaker.state, "half-open")
        for (let i = 0; i < 3; i++) assert.isTrue((yield* invoke(world.gateway, "Ada")).ok)
        assert.strictEqual((yield* resilience(world.gateway)).breaker.state, "closed")
      }),
  )

  it.effect("half-open admits exactly maxRequests concurrent calls, and their successes close it", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      // The slow gateway's breaker: trip it (5 failures), wait out the timeout.
      for (let i = 0; i < 5; i++) yield* invoke(world.slowGateway, "forbidden")
      const tripped = yield* resilience(world.slowGateway)
      assert.strictEqual(tripped.breaker.state, "open")
      yield* Effect.sleep(`${BREAKER_TIMEOUT_MS + 100} millis`)
      world.delay.ms = 400
      const before = yield* executions("half-open-probe")
      const answers = yield* Effect.all(
        Array.from({ length: 6 }, () => invoke(world.slowGateway, "half-open-probe")),
        { concurrency: "unbounded" },
      )
      world.delay.ms = 0
      const admitted = answers.filter((answer) => answer.ok)
      const turnedAway = answers.filter((answer) => !answer.ok)
      assert.strictEqual(admitted.length, 3)
      assert.deepStrictEqual(
        turnedAway.map((answer) => (answer.ok ? "" : `${answer.code}: ${answer.message}`)),
        ["unavailable: too many requests", "unavailable: too many requests", "unavailable: too many requests"],
      )
      assert.strictEqual((yield* executions("half-open-probe")) - before, 3)
      assert.strictEqual((yield* resilience(world.slowGateway)).breaker.state, "closed")
    }),
  )

  it.effect("with lang answering 503 to everything, lang sees at most rate + budget refill + capacity attempts", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      const name = "unavailable"
      const before = yield* executions(name)
      const started = Date.now()
      let requests = 0
      // A steady 20 requests/s for 3 s.
      while (Date.now() - started < 3000) {
        yield* Effect.forkChild(invoke(world.stormGateway, name))
        requests++
        yield* Effect.sleep("50 millis")
      }
      yield* Effect.sleep("500 millis")
      const elapsedSeconds = (Date.now() - started) / 1000
      const attempts = (yield* executions(name)) - before
      const retries = attempts - requests
      assert.isAtMost(retries, 5 + 2 * elapsedSeconds, `${attempts} attempts for ${requests} requests`)
      assert.isAtLeast(retries, 5, "the budget's capacity was spent")
      assert.isBelow(attempts, 2 * requests, "without the budget every call would have retried")
    }),
  )

  it.effect("ratio mode: with lang answering 503 to everything, lang sees at most 1.2 × requests + 2/s", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      const name = "unavailable"
      const before = yield* executions(name)
      const started = Date.now()
      let requests = 0
      // A steady 50 requests/s for 4 s: two windows' worth.
      while (Date.now() - started < 4000) {
        yield* Effect.forkChild(invoke(world.ratioGateway, name))
        requests++
        yield* Effect.sleep("20 millis")
      }
      yield* Effect.sleep("500 millis")
      const elapsedSeconds = (Date.now() - started) / 1000
      const attempts = (yield* executions(name)) - before
      const retries = attempts - requests
      const snapshot = (yield* resilience(world.ratioGateway)) as unknown as { budget: { mode: string } }
      assert.strictEqual(snapshot.budget.mode, "ratio")
      // The reserve (2/s × 2 s) once per window begun, and the share of the requests.
      assert.isAtMost(
        attempts,
        1.2 * requests + 2 * (elapsedSeconds + 2),
        `${attempts} attempts for ${requests} requests`,
      )
      assert.isAtLeast(retries, 0.1 * requests, "retries grow with the traffic, beyond the 2/s reserve")
    }),
  )

  it.effect("with lang slow, the bulkhead lets 3 calls run and 2 wait, and refuses the rest at once", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      const name = "bulkhead-probe"
      const before = yield* executions(name)
      world.delay.ms = 600
      const calls = yield* Effect.forEach(Array.from({ length: 10 }), () =>
        Effect.forkChild(Effect.timed(invoke(world.bulkheadGateway, name))),
      )
      yield* Effect.sleep("300 millis")
      const busy = (yield* resilience(world.bulkheadGateway)) as unknown as {
        bulkhead: unknown
      }
      const answers = yield* Effect.forEach(calls, Fiber.join)
      world.delay.ms = 0
      assert.deepStrictEqual(busy.bulkhead, { inFlight: 3, queued: 2, maxConcurrent: 3, maxQueued: 2 })
      const refused = answers.filter(([, answer]) => !answer.ok)
      assert.strictEqual(answers.filter(([, answer]) => answer.ok).length, 5, "3 ran, then the 2 that waited")
      assert.deepStrictEqual(
        refused.map(([, answer]) => (answer.ok ? "" : `${answer.code}: ${answer.message}`)),
        Array.from(
          { length: 5 },
          () => "resource_exhausted: custom-lang-service: 3 calls running and 2 waiting, no room for more",
        ),
      )
      for (const [took] of refused) assert.isBelow(Duration.toMillis(took), 500, "refused at once, not after lang")
      assert.strictEqual((yield* executions(name)) - before, 5, "lang saw only the admitted calls")
    }),
  )

  it.effect("lang is sent what is left of the client's deadline, or the 1 s attempt timeout", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      const answer = yield* invoke(world.captureGateway, "deadline", { "connect-timeout-ms": "300" })
      assert.deepStrictEqual(answer, { ok: true, message: "captured" })
      yield* invoke(world.captureGateway, "deadline")
      const [short, none] = world.captured.map(Number)
      assert.isTrue(short !== undefined && short > 200 && short <= 300, `with 300 ms left: ${world.captured[0]}`)
      assert.isTrue(none !== undefined && none > 900 && none <= 1000, `without: ${world.captured[1]}`)
    }),
  )

  it.effect("lang's Retry-After is the earliest retry; one longer than an attempt's timeout is not waited for", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      const soon = yield* invoke(world.captureGateway, "retry-after-1")
      assert.deepStrictEqual(soon, {
        ok: false,
        code: "unavailable",
        message: "custom-lang-service returned 503: service unavailable",
      })
      const calls = world.retryCalls.filter((call) => call.name === "retry-after-1")
      assert.strictEqual(calls.length, 2, "retried once")
      const waited = (calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)
      assert.isTrue(waited >= 950 && waited < 1500, `retried after ${waited} ms, as Retry-After: 1 asked`)
      yield* invoke(world.captureGateway, "retry-after-5")
      assert.strictEqual(
        world.retryCalls.filter((call) => call.name === "retry-after-5").length,
        1,
        "5 s is longer than the 1 s attempt: not retried",
      )
    }),
  )

  it.effect("a retryable failure is retried once when the budget allows; a non-retryable one is not", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      const name = "ratelimit"
      const before = yield* executions(name)
      yield* Effect.sleep("3 seconds") // let the storm's budget refill fully
      const answer = yield* invoke(world.stormGateway, name)
      assert.deepStrictEqual(answer, {
        ok: false,
        code: "resource_exhausted",
        message: "custom-lang-service returned 429: rate limited",
      })
      assert.strictEqual((yield* executions(name)) - before, 2)
      const notFound = yield* executions("notfound")
      yield* invoke(world.stormGateway, "notfound")
      assert.strictEqual((yield* executions("notfound")) - notFound, 1)
    }),
  )

  it.effect("an attempt with no answer within 1 s is a network timeout: retried, then deadline_exceeded", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      world.delay.ms = 1500
      const started = Date.now()
      const answer = yield* invoke(world.slowGateway, "Ada")
      world.delay.ms = 0
      assert.deepStrictEqual(answer, {
        ok: false,
        code: "deadline_exceeded",
        message: "custom-lang-service did not answer within 1s",
      })
      const took = Date.now() - started
      assert.isTrue(took >= 1900 && took < 3500, `two attempts of 1 s, took ${took} ms`)
    }),
  )

  it.effect("every outcome is in invocations before the answer", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      yield* Effect.sleep(`${BREAKER_TIMEOUT_MS * 2} millis`)
      const ok = yield* invoke(world.gateway, "Recorded")
      assert.deepStrictEqual(ok, { ok: true, message: "Hello Recorded from custom-lang-service!" })
      const rows = (name: string) =>
        Effect.flatMap(
          SqlClient.SqlClient,
          (sql) =>
            sql<{ result_message: string; success: boolean }>`
            SELECT result_message, success FROM invocations WHERE name = ${name}`,
        ).pipe(Effect.provide(TestDatabase.sqlClient(world.gatewayDatabase)))
      assert.deepStrictEqual(yield* rows("Recorded"), [
        { result_message: "Hello Recorded from custom-lang-service!", success: true },
      ])
      yield* invoke(world.gateway, "conflict")
      assert.deepStrictEqual(yield* rows("conflict"), [
        { result_message: "custom-lang-service returned 409: conflict", success: false },
      ])
      assert.deepStrictEqual(yield* invoke(world.gateway, ""), {
        ok: true,
        message: "Hello World from custom-lang-service!",
      })
    }),
  )

  it.effect("Idempotency-Key: a repeat returns the stored outcome without calling lang again", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      const key = `key-${Date.now()}`
      const first = yield* invoke(world.gateway, "Idem", { "idempotency-key": key })
      const before = yield* executions("Idem")
      const second = yield* invoke(world.gateway, "Idem", { "idempotency-key": key })
      assert.deepStrictEqual(second, first)
      assert.strictEqual(yield* executions("Idem"), before, "lang was not called again")
      const reused = yield* invoke(world.gateway, "Other", { "idempotency-key": key })
      assert.deepStrictEqual(reused.ok ? "" : reused.code, "invalid_argument")
      // Failures are stored too, with their code.
      const failKey = `${key}-fail`
      const failed = yield* invoke(world.gateway, "notfound", { "idempotency-key": failKey })
      const notFound = yield* executions("notfound")
      assert.deepStrictEqual(yield* invoke(world.gateway, "notfound", { "idempotency-key": failKey }), failed)
      assert.strictEqual(yield* executions("notfound"), notFound)
    }),
  )

  it.effect("Connect clients from proto-compat: Connect JSON and gRPC", () =>
    Effect.gen(function* () {
      const world = yield* WorldUnderTest
      for (const transport of [
        createConnectTransport({ baseUrl: world.stormGateway, httpVersion: "1.1" }),
        createGrpcTransport({ baseUrl: world.stormGateway }),
      ]) {
        const client = createClient(GatewayService, transport)
        const response = yield* Effect.promise(() => client.invokeCustom({ name: "Grace" }))
        assert.strictEqual(response.message, "Hello Grace from custom-lang-service!")
      }
    }),
  )
})

describe("gateway without a database", () => {
  layer(Layer.empty, { excludeTestServices: true })((it) => {
    it.effect("still answers", () =>
      Effect.gen(function* () {
        const langDatabase = yield* TestDatabase.freshDatabase("gw_nodb_lang")
        const lang = yield* service(langMain, { DATABASE_URL: langDatabase.href })
        const gateway = yield* service(gatewayMain, { CUSTOM_LANG_BASE_URL: lang })
        assert.deepStrictEqual(yield* invoke(gateway, "Solo"), {
          ok: true,
          message: "Hello Solo from custom-lang-service!",
        })
      }),
    )
  })
})
