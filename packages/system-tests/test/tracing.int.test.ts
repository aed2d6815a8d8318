import { randomBytes } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { type RecordedSpan, SpanRecorder } from "@platform/testkit/SpanRecorder"
import { Context, Effect, Layer, Schedule } from "effect"
import * as InProcess from "./InProcess.ts"

/**
 * One request entering at the edge is one trace: every hop (edge, forward-auth, greeter, Effect
 * RPC to caller, the external call, lang, each database operation) is a span of the same trace,
 * and each span's parent is in it. Spans are recorded in memory by every service of the
 * platform, which runs in this process but talks over real HTTP.
 */
class World extends Context.Service<
  World,
  InProcess.Platform & { readonly token: string; readonly logs: ReadonlyArray<Record<string, unknown>> }
>()("test/World") {}

const WorldLive = Layer.effect(
  World,
  Effect.gen(function* () {
    const around = yield* Effect.context<never>()
    const logs: Array<Record<string, unknown>> = []
    const platform = yield* InProcess.start({
      around,
      log: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
      env: {
        auth: { LOG_LEVEL: "info" },
        // Two consecutive failures open gateway's breaker, so one call that retries trips it.
        gateway: { GATEWAY_BREAKER_CONSECUTIVE_FAILURES: "2" },
      },
    })
    const token = yield* InProcess.signIn(platform.url.edge, "tracing@example.com")
    return { ...platform, token, logs }
  }),
).pipe(Layer.provideMerge(SpanRecorder.layer))

/** A client's own span context, as an instrumented browser or Go service would send it. */
const clientTraceparent = () => {
  const traceId = randomBytes(16).toString("hex")
  const spanId = randomBytes(8).toString("hex")
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` }
}

/** The spans of `traceId` once `done` holds for them (spans end as the hops finish). */
const traceOf = (traceId: string, done: (spans: ReadonlyArray<RecordedSpan>) => boolean) =>
  Effect.flatMap(SpanRecorder, (recorder) =>
    recorder.spans.pipe(
      Effect.map((all) => all.filter((span) => span.traceId === traceId)),
      Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: done }),
      Effect.timeout("5 seconds"),
    ),
  )

const named = (spans: ReadonlyArray<RecordedSpan>, name: string) => spans.filter((span) => span.name === name)

const one = (spans: ReadonlyArray<RecordedSpan>, name: string) => {
  const found = named(spans, name)
  assert.strictEqual(found.length, 1, `one span ${name}, got ${found.length}: ${spans.map((s) => s.name).join(", ")}`)
  return found[0] as RecordedSpan
}

/** The span ids above `span`, nearest first. */
const ancestors = (spans: ReadonlyArray<RecordedSpan>, span: RecordedSpan): Array<string> => {
  const parent = spans.find((candidate) => candidate.spanId === span.parentSpanId)
  return parent === undefined ? [] : [parent.spanId, ...ancestors(spans, parent)]
}

const childrenOf = (spans: ReadonlyArray<RecordedSpan>, parent: RecordedSpan) =>
  spans.filter((span) => span.parentSpanId === parent.spanId)

/** Every span's parent is a span of the trace, but for the root, whose parent is the client's. */
const assertConnected = (spans: ReadonlyArray<RecordedSpan>, clientSpanId: string) => {
  const ids = new Set(spans.map((span) => span.spanId))
  const roots = spans.filter((span) => span.parentSpanId === undefined || !ids.has(span.parentSpanId))
  assert.deepStrictEqual(
    roots.map((span) => [span.name, span.parentSpanId]),
    [[roots[0]?.name, clientSpanId]],
    "one root, the edge's server span, child of the client's span",
  )
}

layer(WorldLive, { excludeTestServices: true, timeout: "90 seconds" })("one trace per request", (it) => {
  it.effect("Greet through edge -> greeter -> caller -> external API: one trace, every parent link in it", () =>
    Effect.gen(function* () {
      const world = yield* World
      const client = clientTraceparent()
      const answer = yield* InProcess.connectCall(
        `${world.url.edge}/greeter.v1.GreeterService/Greet`,
        world.token,
        { name: "Ada" },
        { traceparent: client.header },
      )
      assert.strictEqual(answer.status, 200)
      const spans = yield* traceOf(
        client.traceId,
        (spans) =>
          named(spans, "POST /greeter.v1.GreeterService/*").length > 0 &&
          named(spans, "GreetingsRepo.insert batch").length > 0,
      )
      assertConnected(spans, client.spanId)

      const edge = one(spans, "POST /greeter.v1.GreeterService/*")
      assert.strictEqual(edge.kind, "server")
      assert.strictEqual(edge.parentSpanId, client.spanId)
      assert.strictEqual(edge.attributes.get("http.response.status_code"), 200)
      // Forward-auth: a client span of the edge, and auth's server span under it.
      const verify = one(spans, "GET /verify")
      const verifyClient = spans.find((span) => span.spanId === verify.parentSpanId)
      assert.strictEqual(verifyClient?.kind, "client")
      assert.strictEqual(verifyClient?.parentSpanId, edge.spanId)
      // The proxied request: the edge's client span, greeter's RPC server span under it.
      const greet = one(spans, "greeter.v1.GreeterService/Greet")
      assert.strictEqual(greet.kind, "server")
      const proxied = spans.find((span) => span.spanId === greet.parentSpanId)
      assert.strictEqual(proxied?.kind, "client")
      assert.strictEqual(proxied?.parentSpanId, edge.spanId)
      assert.strictEqual(greet.attributes.get("rpc.service"), "greeter.v1.GreeterService")
      // greeter -> caller over Effect RPC: client span in greeter, server span in caller.
      const rpcClient = spans.find((span) => span.name === "caller.Caller.CallExternal" && span.kind === "client")
      const rpcServer = spans.find((span) => span.name === "caller.Caller.CallExternal" && span.kind === "server")
      assert.isDefined(rpcClient)
      assert.isDefined(rpcServer)
      // Effect RPC over HTTP: the RPC client span, its HTTP request, the RPC server span.
      const rpcHttp = spans.find((span) => span.spanId === rpcServer?.parentSpanId)
      assert.strictEqual(rpcHttp?.kind, "client")
      assert.strictEqual(rpcHttp?.parentSpanId, rpcClient?.spanId)
      // caller -> the external API: an HTTP client span, the last hop.
      const external = childrenOf(spans, rpcServer as RecordedSpan).flatMap((span) => [
        span,
        ...childrenOf(spans, span),
      ])
      const fetch = external.find((span) => span.kind === "client" && span.name === "GET")
      assert.isDefined(fetch, `caller's GET of the external API, among ${external.map((s) => s.name).join(", ")}`)
      assert.strictEqual(fetch?.attributes.get("http.response.status_code"), 200)
      // The greeting is recorded inside greeter's span: the repository operation, its batch's
      // statement under it, naming greeter's own database where it really is.
      const insert = one(spans, "GreetingsRepo.insert")
      assert.include(ancestors(spans, insert), greet.spanId)
      const batch = one(spans, "GreetingsRepo.insert batch")
      assert.strictEqual(batch.parentSpanId, insert.spanId)
      const [statement] = childrenOf(spans, batch)
      const database = new URL(world.databases.greeter)
      assert.strictEqual(statement?.attributes.get("db.system.name"), "postgresql")
      assert.strictEqual(statement?.attributes.get("db.namespace"), database.pathname.slice(1))
      assert.strictEqual(statement?.attributes.get("server.address"), database.hostname)
      assert.strictEqual(statement?.attributes.get("server.port"), Number(database.port || 5432))
      // Every service took part, and nothing else answered the request outside the trace.
      const recorder = yield* SpanRecorder
      const servers = (yield* recorder.spans).filter(
        (span) => span.name === "greeter.v1.GreeterService/Greet" || span.name === "caller.Caller.CallExternal",
      )
      assert.isTrue(servers.every((span) => span.traceId === client.traceId))
    }),
  )

  it.effect("InvokeCustom that retries: both attempts, the retry, then a breaker rejection, in their traces", () =>
    Effect.gen(function* () {
      const world = yield* World
      const url = `${world.url.edge}/gateway.v1.GatewayService/InvokeCustom`

      const first = clientTraceparent()
      const failed = yield* InProcess.connectCall(
        url,
        world.token,
        { name: "unavailable" },
        { traceparent: first.header },
      )
      assert.strictEqual(failed.status, 503)
      assert.strictEqual(failed.body.code, "unavailable")
      const spans = yield* traceOf(first.traceId, (spans) => named(spans, "InvocationsRepo.insert").length > 0)
      assertConnected(spans, first.spanId)
      const invoke = one(spans, "Gateway.invoke")
      assert.deepStrictEqual(
        invoke.events.map((event) => [event.name, event.attributes["retry.attempt"]]),
        [["retry", 1]],
        "the budget granted one retry",
      )
      const attempts = named(spans, "Gateway.attempt").sort(
        (a, b) => Number(a.attributes.get("gateway.attempt")) - Number(b.attributes.get("gateway.attempt")),
      )
      assert.deepStrictEqual(
        attempts.map((span) => span.attributes.get("gateway.attempt")),
        [1, 2],
      )
      for (const attempt of attempts) {
        assert.strictEqual(attempt.parentSpanId, invoke.spanId)
        // Each attempt reached lang: the HTTP client span, lang's server span, lang's insert.
        const [request] = childrenOf(spans, attempt).filter((span) => span.kind === "client")
        assert.isDefined(request)
        assert.strictEqual(request?.attributes.get("http.response.status_code"), 503)
        const [lang] = childrenOf(spans, request as RecordedSpan)
        assert.strictEqual(lang?.name, "POST /invoke")
        assert.strictEqual(lang?.attributes.get("http.response.status_code"), 503)
        assert.strictEqual(lang?.status._tag === "Ended" && lang.status.exit._tag, "Failure", "5xx marks it failed")
        const inserts = named(spans, "ExecutionsRepo.insert").filter((span) =>
          ancestors(spans, span).includes((lang as RecordedSpan).spanId),
        )
        assert.lengthOf(inserts, 1, "lang recorded the execution inside its span")
      }

      // Two consecutive failures opened the breaker: the next call is rejected without lang.
      const second = clientTraceparent()
      const rejected = yield* InProcess.connectCall(url, world.token, { name: "Ada" }, { traceparent: second.header })
      assert.strictEqual(rejected.body.code, "unavailable")
      const after = yield* traceOf(second.traceId, (spans) => named(spans, "InvocationsRepo.insert").length > 0)
      const attempt = one(after, "Gateway.attempt")
      assert.deepStrictEqual(
        attempt.events.map((event) => [event.name, event.attributes.reason]),
        [["breaker.rejected", "open"]],
      )
      assert.lengthOf(named(after, "POST /invoke"), 0, "lang was not called")
    }),
  )

  it.effect("a log line written while serving a request carries its trace_id and span_id", () =>
    Effect.gen(function* () {
      const world = yield* World
      const client = clientTraceparent()
      const response = yield* Effect.promise(() =>
        fetch(`${world.url.edge}/auth/register`, {
          method: "POST",
          headers: { "content-type": "application/json", traceparent: client.header },
          body: JSON.stringify({ email: "logged@example.com", password: "correct horse battery" }),
        }),
      )
      assert.strictEqual(response.status, 201)
      const spans = yield* traceOf(client.traceId, (spans) => named(spans, "Accounts.register").length > 0)
      const line = world.logs.find((entry) => entry.message === "user registered" && entry.trace_id === client.traceId)
      assert.isDefined(line, "auth's log line is in the request's trace")
      assert.strictEqual(line?.service, "auth")
      assert.strictEqual(line?.span_id, one(spans, "Accounts.register").spanId, "the span it was written in")
    }),
  )
})
