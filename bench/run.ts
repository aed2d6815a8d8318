/**
 * `pnpm bench [--quick] [--duration s] [--connections n] [--rounds n] [--only regex] [--profile]`: the platform
 * under load, side by side with plain baselines, in one run on this machine.
 *
 * Everything measured runs in its own process on loopback, on fresh databases; this process is
 * only the load generator. Each figure is printed with its ratio to its nearest baseline: the
 * machine is shared and noisy, so ratios measured in the same run mean more than absolutes.
 * `--quick` (CI) runs each scenario for a second to prove the harness works; `--profile` runs
 * greeter and caller under `node --cpu-prof` and names where their time went. A script that
 * prints figures: it fails only when a scenario could not run, never on a number.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { create, toBinary } from "@bufbuild/protobuf"
import { NodeHttpClient } from "@effect/platform-node"
import { CallerRpcs, RPC_FRAMED_PATH, RPC_PATH } from "@platform/contracts/CallerRpcs"
import { GreetRequestSchema } from "@platform/proto-compat/greeter/v1"
import * as Bulkhead from "@platform/resilience/Bulkhead"
import * as BulkheadMetrics from "@platform/resilience/BulkheadMetrics"
import * as CircuitBreaker from "@platform/resilience/CircuitBreaker"
import * as RetryBudget from "@platform/resilience/RetryBudget"
import * as Deadline from "@platform/shared/Deadline"
import * as RpcBatching from "@platform/shared/RpcBatching"
import * as Spool from "@platform/shared/Spool"
import bcrypt from "bcrypt"
import { Duration, Effect, Layer, Logger, Metric, Schema, type Scope } from "effect"
import type { HttpClient } from "effect/http"
import { RpcClient, RpcSerialization } from "effect/rpc"
import * as hdr from "hdr-histogram-js"
import * as Cpu from "./Cpu.ts"
import * as Load from "./Load.ts"
import * as Profile from "./Profile.ts"
import * as Servers from "./Servers.ts"
import * as Wrk from "./Wrk.ts"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string) => {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}
const quick = flag("--quick")
/** `--profile` alone profiles the Greet chain; `--profile a,b` the services named. */
const profile = flag("--profile")
const profileNames = (() => {
  const value = option("--profile")
  return value === undefined || value.startsWith("--") ? ["greeter", "caller"] : value.split(",")
})()
const only = option("--only") === undefined ? undefined : new RegExp(option("--only") as string, "i")
const shape: Load.Shape = {
  duration: Number(option("--duration") ?? (quick ? 1 : 10)),
  warmup: quick ? 0.5 : 2,
  connections: Number(option("--connections") ?? 16),
}

/**
 * The targets' pairs (the plain chain, Greet direct and through the edge, each protocol) run
 * this many times, alternately, and each target is the median of its rounds' ratios: this
 * machine's speed drifts by more than the differences measured (`node:http`'s ceiling moved by
 * ×1.4 within an hour), and one back-to-back pair's ratio moved with it.
 */
const rounds = Math.max(1, Number(option("--rounds") ?? (quick ? 1 : 3)))

const PROTOCOLS = ["Connect JSON", "Connect binary", "gRPC"] as const
const roundNames = PROTOCOLS.flatMap((protocol) => [
  `plain greet chain, ${protocol}`,
  `Greet, ${protocol}`,
  `Greet through the edge, ${protocol}`,
])

const progress = (line: string) => process.stderr.write(`bench: ${line}\n`)

/** The cost-10 hashes every core together can do per second: the ceiling of logins. */
const bcryptLimit = async (seconds: number) => {
  const hash = await bcrypt.hash("correct horse battery", 10)
  const cores = availableParallelism()
  const deadline = Date.now() + seconds * 1000
  let done = 0
  const started = Date.now()
  await Promise.all(
    Array.from({ length: cores }, async () => {
      while (Date.now() < deadline) {
        await bcrypt.compare("correct horse battery", hash)
        done += 1
      }
    }),
  )
  return done / ((Date.now() - started) / 1000)
}

/**
 * One call made by `setup` (a resilience primitive's, or a client's), timed in this process one
 * at a time: its own cost on the hot path.
 */
const inProcess = (samples: number, setup: Effect.Effect<Effect.Effect<unknown, unknown>, never, Scope.Scope>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const call = yield* setup
      const latencies = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000 })
      const started = process.hrtime.bigint()
      for (let i = 0; i < samples; i++) {
        const sent = process.hrtime.bigint()
        yield* Effect.exit(call)
        // Nanoseconds, so that a few microseconds still have three significant digits.
        latencies.recordValue(Math.max(1, Number(process.hrtime.bigint() - sent)))
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      return {
        rps: samples / seconds,
        p50: latencies.getValueAtPercentile(50) / 1000,
        p99: latencies.getValueAtPercentile(99) / 1000,
        p999: latencies.getValueAtPercentile(99.9) / 1000,
        failures: 0,
        total: samples,
      } satisfies Load.Figures
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map()), Effect.provide(Logger.layer([]))),
  )

/** `CircuitBreaker.execute` on an open breaker. */
const openBreaker = Effect.gen(function* () {
  const breaker = yield* CircuitBreaker.make<string>({ name: "bench", readyToTrip: () => true })
  yield* Effect.exit(breaker.execute(Effect.fail("trip")))
  return breaker.execute(Effect.void)
})

/** `Bulkhead.execute` with room, observed as the services observe it (gauges, counter). */
const bulkheadWithRoom = Effect.gen(function* () {
  const bulkhead = yield* Bulkhead.make({ name: "bench", maxConcurrent: 100, maxQueued: 100 })
  yield* BulkheadMetrics.observe(bulkhead)
  return bulkhead.execute(Effect.void)
})

/** A request deposited in a ratio budget and a retry taken from it (Linkerd's defaults). */
const ratioBudget = Effect.gen(function* () {
  const budget = yield* RetryBudget.makeRatio({ ratio: 0.2, minPerSecond: 10, windowMs: 10_000 })
  return Effect.andThen(budget.deposit, budget.tryTake)
})

/** What a call under a deadline pays: the remaining time, less the margin, for the next hop. */
const deadlineOutbound = Effect.succeed(Deadline.outbound(1000).pipe(Deadline.within(2000)))

/**
 * greeter's Effect RPC client of caller, built on `protocol`, calling the real caller (which
 * fetches `url`) one call at a time: what a call pays when nothing else is out, the case the
 * shared requests must not tax (a call after an answered one once waited a window for nothing).
 */
const rpcCall = (
  url: string,
  protocol: Layer.Layer<RpcClient.Protocol, never, HttpClient.HttpClient | RpcSerialization.RpcSerialization>,
  serialization: Layer.Layer<RpcSerialization.RpcSerialization>,
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(protocol.pipe(Layer.provide([NodeHttpClient.layerUndici, serialization])))
    const client = yield* RpcClient.make(CallerRpcs).pipe(Effect.provideContext(context))
    return client.CallExternal({ url })
  })

/** One row appended to a spool (a write(2) of a JSON line) and confirmed. */
const spoolAppend = Effect.gen(function* () {
  const directory = mkdtempSync(join(tmpdir(), "bench-spool-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
  const spool = yield* Spool.make({
    directory,
    name: "bench",
    schema: Schema.Struct({ id: Schema.String, url: Schema.String, status_code: Schema.Int }),
    maxBytes: 1024 * 1024 * 1024,
  })
  let n = 0
  return Effect.flatMap(
    spool.append({
      id: `00000000-0000-0000-0000-${String(n++).padStart(12, "0")}`,
      url: "https://example.com/",
      status_code: 200,
    }),
    (ticket) => (ticket === undefined ? Effect.void : spool.confirm([ticket])),
  )
})

/** A scenario of the open loop: `request` sent at `rate` a second whatever the answers do. */
interface RateScenario {
  readonly name: string
  readonly rate: number
  readonly kind: "baseline" | "platform"
  /** The scenario at the same rate this one is compared with. */
  readonly baseline?: string
  /** Our services the request crosses (the latency added is also shown per hop). */
  readonly hops?: number
  readonly request: Load.HttpRequest
}

const rateKey = (name: string, rate: number) => `${name} at ${rate} req/s`

interface Scenario {
  readonly name: string
  readonly kind: "baseline" | "platform"
  /** The scenario this one is compared with. */
  readonly baseline?: string
  readonly run: () => Promise<Load.Figures>
  /** The processes the request crosses, whose CPU per request is read over the run (`Cpu`). */
  readonly processes?: ReadonlyArray<Servers.Server>
}

const json = (url: string, body: unknown, headers: Record<string, string> = {}): Load.HttpRequest => ({
  url,
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
})

const greetBinary = Buffer.from(toBinary(GreetRequestSchema, create(GreetRequestSchema, { name: "Bench" })))
const GREET = "/greeter.v1.GreeterService/Greet"
const INVOKE = "/gateway.v1.GatewayService/InvokeCustom"
const CALL = "/caller.v1.CallerService/CallExternal"

const main = async () => {
  const profileDir = profile
    ? (process.env.BENCH_PROFILE_DIR ?? mkdtempSync(join(tmpdir(), "bench-profile-")))
    : undefined
  const profiledServices = profileNames
  const profiled = (name: string) =>
    profileDir === undefined || !profiledServices.includes(name)
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, name)}`]
  if (profileDir !== undefined) for (const name of profiledServices) mkdirSync(join(profileDir, name))

  progress("measuring the bcrypt limit")
  const bcryptPerSecond = await bcryptLimit(quick ? 1 : 5)

  progress("starting the baselines and the platform, each in its own process, on fresh databases")
  const stub = await Servers.serve("external stand-in", Servers.baseline("external-stub"))
  const [nodeHttp, connectGreet, effectApi, plainCaller] = await Promise.all([
    Servers.serve("node:http", Servers.baseline("node-http")),
    Servers.serve("connect-node", Servers.baseline("connect-greet")),
    Servers.serve("Effect HttpApi", Servers.baseline("effect-httpapi")),
    Servers.serve("plain caller", Servers.baseline("plain-caller"), {
      env: {
        DATABASE_URL: await Servers.database(
          "plain_caller",
          "CREATE TABLE call_logs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), url text NOT NULL, status_code int NOT NULL, body_length int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
        ),
      },
    }),
  ])
  const plainGreeter = await Servers.serve("plain greeter", Servers.baseline("plain-greeter"), {
    env: {
      DATABASE_URL: await Servers.database(
        "plain_greeter",
        "CREATE TABLE greetings (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name varchar(255) NOT NULL, message text NOT NULL, external_status int, created_at timestamptz NOT NULL DEFAULT now())",
      ),
      CALLER_BASE_URL: plainCaller.url,
      EXTERNAL_API_URL: stub.url,
    },
  })
  /** A service of the platform as `pnpm start` runs it, ready once its health check answers. */
  const platform = (name: string, pkg: string, env: Record<string, string>, health = "/healthz") =>
    Servers.serve(name, Servers.service(pkg), { env, health, nodeOptions: profiled(name) })
  const [lang, auth, caller] = await Promise.all([
    platform("lang", "lang", { DATABASE_URL: await Servers.database("lang") }),
    platform("auth", "auth", { DATABASE_URL: await Servers.database("auth") }),
    platform("caller", "caller", {
      DATABASE_URL: await Servers.database("caller"),
      // The stub is on loopback.
      CALLER_ALLOW_PRIVATE_NETWORKS: "true",
    }),
  ])
  const [greeter, gateway, gatewayOpen, gatewayOpenNoDatabase] = await Promise.all([
    platform("greeter", "greeter", {
      DATABASE_URL: await Servers.database("greeter"),
      CALLER_BASE_URL: caller.url,
      EXTERNAL_API_URL: stub.url,
    }),
    platform("gateway", "gateway", { DATABASE_URL: await Servers.database("gateway"), CUSTOM_LANG_BASE_URL: lang.url }),
    // A gateway whose lang is gone: once tripped, its breaker stays open for the whole run.
    platform("gateway-open", "gateway", {
      DATABASE_URL: await Servers.database("gateway_open"),
      CUSTOM_LANG_BASE_URL: "http://127.0.0.1:1",
      GATEWAY_BREAKER_TIMEOUT_MS: String(60 * 60 * 1000),
    }),
    // The same without a database: the fast-fail path without the INSERT the contract asks for.
    platform("gateway-open-nodb", "gateway", {
      CUSTOM_LANG_BASE_URL: "http://127.0.0.1:1",
      GATEWAY_BREAKER_TIMEOUT_MS: String(60 * 60 * 1000),
    }),
  ])
  // greeter as it was before its calls to caller shared requests: each call its own (JSON) request.
  const greeterAlone = await platform("greeter-alone", "greeter", {
    DATABASE_URL: await Servers.database("greeter_alone"),
    CALLER_BASE_URL: caller.url,
    EXTERNAL_API_URL: stub.url,
    GREETER_CALLER_BATCH_WINDOW_MS: "0",
  })
  // The same services on two workers each (WORKERS=2): how far a second core carries them.
  const langTwo = await platform("lang-2w", "lang", { DATABASE_URL: await Servers.database("lang_2w"), WORKERS: "2" })
  const [langAlone, langAloneTwo] = await Promise.all([
    platform("lang-nodb", "lang", {}),
    platform("lang-nodb-2w", "lang", { WORKERS: "2" }),
  ])
  const callerTwo = await platform("caller-2w", "caller", {
    DATABASE_URL: await Servers.database("caller_2w"),
    CALLER_ALLOW_PRIVATE_NETWORKS: "true",
    WORKERS: "2",
  })
  const greeterTwo = await platform("greeter-2w", "greeter", {
    DATABASE_URL: await Servers.database("greeter_2w"),
    CALLER_BASE_URL: callerTwo.url,
    EXTERNAL_API_URL: stub.url,
    WORKERS: "2",
  })
  const edgeSettings = {
    EDGE_GREETER_URL: greeter.url,
    EDGE_GATEWAY_URL: gateway.url,
    EDGE_AUTH_URL: auth.url,
    // The contract's 100/s per client would measure the rate limiter: one client sends it all.
    EDGE_RATE_LIMIT_AVERAGE: "1000000",
    EDGE_RATE_LIMIT_BURST: "1000000",
  }
  const edge = await platform("edge", "edge", edgeSettings, "/ping")
  // Traefik's way, and the edge's before it kept auth's verdicts: auth asked on every request.
  const edgeAsking = await platform("edge-asking", "edge", { ...edgeSettings, EDGE_AUTH_CACHE_MS: "0" }, "/ping")

  const post = (url: string, body: unknown) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  const credentials = { email: "bench@example.com", password: "correct horse battery" }
  await post(`${auth.url}/auth/register`, credentials)
  const login = (await (await post(`${auth.url}/auth/login`, credentials)).json()) as { token: string }
  const bearer = { authorization: `Bearer ${login.token}` }
  // Five consecutive failures trip the breaker; it stays open for the hour the run lasts at most.
  for (const open of [gatewayOpen, gatewayOpenNoDatabase]) {
    for (let i = 0; i < 6; i++) await post(`${open.url}${INVOKE}`, { name: "Bench" })
  }

  /** The running scenario's CPU meter, if it names its processes. */
  let around: Load.Around | undefined
  /** What a scenario's run is shaped like now: the run's shape, or the warm-up's. */
  let current: Load.Shape = shape
  const http1 = (request: Load.HttpRequest, connections = current.connections) =>
    Load.http1(request, { ...current, connections, around })
  const grpc = (base: string, headers: Record<string, string> = {}) =>
    Load.grpc({ base, path: GREET, headers, message: greetBinary }, { ...current, around })
  const binary = (url: string, headers: Record<string, string> = {}): Load.HttpRequest => ({
    url,
    method: "POST",
    headers: { "content-type": "application/proto", ...headers },
    body: greetBinary,
  })
  const greet = { name: "Bench" }

  const scenarios: ReadonlyArray<Scenario> = [
    {
      name: "CircuitBreaker.execute, open, in process (one call at a time)",
      kind: "platform",
      run: () => inProcess(quick ? 20_000 : 200_000, openBreaker),
    },
    {
      name: "Bulkhead.execute, room, in process (one call at a time)",
      kind: "platform",
      run: () => inProcess(quick ? 20_000 : 200_000, bulkheadWithRoom),
    },
    {
      name: "RetryBudget ratio: deposit + take, in process",
      kind: "platform",
      run: () => inProcess(quick ? 20_000 : 200_000, ratioBudget),
    },
    {
      name: "Deadline.outbound under a deadline, in process",
      kind: "platform",
      run: () => inProcess(quick ? 20_000 : 200_000, deadlineOutbound),
    },
    {
      name: "Spool.append + confirm (write(2) of a row), in process",
      kind: "platform",
      run: () => inProcess(quick ? 5_000 : 50_000, spoolAppend),
    },
    {
      name: "Effect RPC call to caller, a request per call (JSON /rpc), one at a time",
      kind: "baseline",
      run: () =>
        inProcess(
          quick ? 200 : 3000,
          rpcCall(
            stub.url,
            RpcClient.layerProtocolHttp({ url: `${caller.url}${RPC_PATH}` }),
            RpcSerialization.layerJson,
          ),
        ),
    },
    {
      name: "Effect RPC call to caller, greeter's shared requests (RpcBatching), one at a time",
      kind: "platform",
      baseline: "Effect RPC call to caller, a request per call (JSON /rpc), one at a time",
      run: () =>
        inProcess(
          quick ? 200 : 3000,
          rpcCall(
            stub.url,
            RpcBatching.layerProtocolHttp({ url: `${caller.url}${RPC_FRAMED_PATH}`, window: Duration.millis(1) }),
            RpcSerialization.layerNdjson,
          ),
        ),
    },
    { name: "node:http handler (the ceiling)", kind: "baseline", run: () => http1(json(nodeHttp.url, greet)) },
    {
      name: "connect-node Greet, Connect JSON",
      kind: "baseline",
      baseline: "node:http handler (the ceiling)",
      run: () => http1(json(`${connectGreet.url}${GREET}`, greet)),
    },
    {
      name: "connect-node Greet, Connect JSON, 1 connection",
      kind: "baseline",
      run: () => http1(json(`${connectGreet.url}${GREET}`, greet), 1),
    },
    { name: "connect-node Greet, gRPC", kind: "baseline", run: () => grpc(connectGreet.url) },
    {
      name: "Effect HttpApi handler",
      kind: "baseline",
      baseline: "node:http handler (the ceiling)",
      run: () => http1(json(`${effectApi.url}/invoke`, greet)),
    },
    {
      name: "plain greet chain, Connect JSON",
      kind: "baseline",
      baseline: "connect-node Greet, Connect JSON",
      run: () => http1(json(`${plainGreeter.url}${GREET}`, greet)),
      processes: [plainGreeter, plainCaller],
    },
    {
      name: "plain greet chain, Connect binary",
      kind: "baseline",
      run: () => http1(binary(`${plainGreeter.url}${GREET}`)),
      processes: [plainGreeter, plainCaller],
    },
    {
      name: "plain greet chain, gRPC",
      kind: "baseline",
      run: () => grpc(plainGreeter.url),
      processes: [plainGreeter, plainCaller],
    },
    {
      name: "Greet, Connect JSON",
      kind: "platform",
      baseline: "plain greet chain, Connect JSON",
      run: () => http1(json(`${greeter.url}${GREET}`, greet)),
      processes: [greeter, caller],
    },
    {
      name: "Greet, Connect JSON, each call to caller in its own request",
      kind: "platform",
      baseline: "plain greet chain, Connect JSON",
      run: () => http1(json(`${greeterAlone.url}${GREET}`, greet)),
      processes: [greeterAlone, caller],
    },
    {
      name: "Greet, Connect binary",
      kind: "platform",
      baseline: "plain greet chain, Connect binary",
      run: () => http1(binary(`${greeter.url}${GREET}`)),
      processes: [greeter, caller],
    },
    {
      name: "Greet, gRPC",
      kind: "platform",
      baseline: "plain greet chain, gRPC",
      run: () => grpc(greeter.url),
      processes: [greeter, caller],
    },
    {
      name: "Greet through the edge, Connect JSON",
      kind: "platform",
      baseline: "plain greet chain, Connect JSON",
      run: () => http1(json(`${edge.url}${GREET}`, greet, bearer)),
      processes: [edge, auth, greeter, caller],
    },
    {
      name: "Greet through the edge, Connect JSON, auth asked on every request",
      kind: "platform",
      baseline: "plain greet chain, Connect JSON",
      run: () => http1(json(`${edgeAsking.url}${GREET}`, greet, bearer)),
      processes: [edgeAsking, auth, greeter, caller],
    },
    {
      name: "Greet through the edge, Connect binary",
      kind: "platform",
      baseline: "plain greet chain, Connect binary",
      run: () => http1(binary(`${edge.url}${GREET}`, bearer)),
      processes: [edge, auth, greeter, caller],
    },
    {
      name: "Greet through the edge, gRPC",
      kind: "platform",
      baseline: "plain greet chain, gRPC",
      run: () => grpc(edge.url, bearer),
      processes: [edge, auth, greeter, caller],
    },
    {
      name: "InvokeCustom (lang answers)",
      kind: "platform",
      baseline: "connect-node Greet, Connect JSON",
      run: () => http1(json(`${gateway.url}${INVOKE}`, greet)),
      processes: [gateway, lang],
    },
    {
      name: "InvokeCustom, breaker open",
      kind: "platform",
      baseline: "connect-node Greet, Connect JSON",
      run: () => http1({ ...json(`${gatewayOpen.url}${INVOKE}`, greet), expectStatus: 503 }),
    },
    {
      name: "InvokeCustom, breaker open, 1 connection",
      kind: "platform",
      baseline: "connect-node Greet, Connect JSON, 1 connection",
      run: () => http1({ ...json(`${gatewayOpen.url}${INVOKE}`, greet), expectStatus: 503 }, 1),
    },
    {
      name: "InvokeCustom, breaker open, 1 connection, no database",
      kind: "platform",
      baseline: "connect-node Greet, Connect JSON, 1 connection",
      run: () => http1({ ...json(`${gatewayOpenNoDatabase.url}${INVOKE}`, greet), expectStatus: 503 }, 1),
    },
    {
      name: "lang POST /invoke (with its INSERT)",
      kind: "platform",
      baseline: "Effect HttpApi handler",
      run: () => http1(json(`${lang.url}/invoke`, greet)),
    },
    // WORKERS: 1 and 2 processes under wrk (one C thread), which a second worker cannot outrun.
    ...(Wrk.available()
      ? ([
          {
            name: "lang POST /invoke, no database, 1 worker (wrk)",
            kind: "platform",
            run: () => Wrk.http1(json(`${langAlone.url}/invoke`, greet), shape),
          },
          {
            name: "lang POST /invoke, no database, 2 workers (wrk)",
            kind: "platform",
            baseline: "lang POST /invoke, no database, 1 worker (wrk)",
            run: () => Wrk.http1(json(`${langAloneTwo.url}/invoke`, greet), shape),
          },
          {
            name: "lang POST /invoke, 1 worker (wrk)",
            kind: "platform",
            run: () => Wrk.http1(json(`${lang.url}/invoke`, greet), shape),
          },
          {
            name: "lang POST /invoke, 2 workers (wrk)",
            kind: "platform",
            baseline: "lang POST /invoke, 1 worker (wrk)",
            run: () => Wrk.http1(json(`${langTwo.url}/invoke`, greet), shape),
          },
          {
            name: "Greet, Connect JSON, 1 worker each (wrk)",
            kind: "platform",
            run: () => Wrk.http1(json(`${greeter.url}${GREET}`, greet), shape),
          },
          {
            name: "Greet, Connect JSON, greeter and caller on 2 workers each (wrk)",
            kind: "platform",
            baseline: "Greet, Connect JSON, 1 worker each (wrk)",
            run: () => Wrk.http1(json(`${greeterTwo.url}${GREET}`, greet), shape),
          },
        ] satisfies ReadonlyArray<Scenario>)
      : []),
    {
      name: "auth GET /verify",
      kind: "platform",
      baseline: "Effect HttpApi handler",
      run: () => http1({ url: `${auth.url}/verify`, method: "GET", headers: bearer }),
    },
    {
      // One account from one client: its attempts run one at a time by design (the brute-force
      // guard's lock); logins of different accounts or clients run side by side.
      name: "auth POST /auth/login (bcrypt cost 10, one account, one client)",
      kind: "platform",
      run: () => http1(json(`${auth.url}/auth/login`, credentials)),
    },
  ]

  /** Open-loop scenarios: the chain as users meet it, at a fixed rate well below saturation and near it. */
  const rates = quick ? [200] : [200, 1000]
  const rateScenarios: ReadonlyArray<RateScenario> = rates.flatMap((rate) => [
    {
      name: "plain greet chain, Connect JSON",
      rate,
      kind: "baseline" as const,
      request: json(`${plainGreeter.url}${GREET}`, greet),
    },
    {
      name: "Greet, Connect JSON",
      rate,
      kind: "platform" as const,
      baseline: "plain greet chain, Connect JSON",
      hops: 2,
      request: json(`${greeter.url}${GREET}`, greet),
    },
    {
      name: "Greet through the edge, Connect JSON",
      rate,
      kind: "platform" as const,
      baseline: "plain greet chain, Connect JSON",
      hops: 3,
      request: json(`${edge.url}${GREET}`, greet, bearer),
    },
    {
      name: "InvokeCustom (lang answers)",
      rate,
      kind: "platform" as const,
      request: json(`${gateway.url}${INVOKE}`, greet),
    },
    // One hop each, the same work (fetch the stand-in, log the call): the cost of one of our hops.
    {
      name: "plain caller CallExternal, Connect JSON",
      rate,
      kind: "baseline" as const,
      request: json(`${plainCaller.url}${CALL}`, { url: stub.url }),
    },
    {
      name: "caller CallExternal, Connect JSON",
      rate,
      kind: "platform" as const,
      baseline: "plain caller CallExternal, Connect JSON",
      hops: 1,
      request: json(`${caller.url}${CALL}`, { url: stub.url }),
    },
  ])

  // A process's first seconds under load run code V8 has not optimised yet (a chain's CPU per
  // request was up to ×1.7 its later figure): every chain is driven once before anything counts,
  // so that the first scenario to reach a service is not the one that pays for its warm-up.
  if (!quick) {
    current = { duration: 4, warmup: 0, connections: shape.connections }
    for (const scenario of scenarios) {
      if (scenario.processes === undefined || (only !== undefined && !only.test(scenario.name))) continue
      progress(`warming up: ${scenario.name} (${current.duration} s, not counted)`)
      await scenario.run()
    }
    current = shape
  }

  const results = new Map<string, Load.Figures>()
  const cpu = new Map<string, Cpu.PerRequest>()
  for (const scenario of scenarios) {
    if (only !== undefined && !only.test(scenario.name)) continue
    progress(`${scenario.name} (${shape.duration} s)`)
    const processes = scenario.processes
    around = processes === undefined ? undefined : Cpu.meter(processes, (figures) => cpu.set(scenario.name, figures))
    results.set(scenario.name, await scenario.run())
    around = undefined
  }

  // The first round is the pass above; the others run the pairs again, one after the other.
  const roundResults = new Map<string, Array<Load.Figures>>(
    [...results].filter(([name]) => roundNames.includes(name)).map(([name, figures]) => [name, [figures]]),
  )
  for (let round = 2; round <= rounds; round++) {
    for (const name of roundNames) {
      const scenario = scenarios.find((candidate) => candidate.name === name)
      if (scenario === undefined || (only !== undefined && !only.test(name))) continue
      progress(`round ${round} of ${rounds}: ${name} (${shape.duration} s)`)
      roundResults.get(name)?.push(await scenario.run())
    }
  }

  const rateResults = new Map<string, Load.RateFigures>()
  for (const scenario of rateScenarios) {
    if (only !== undefined && !only.test(scenario.name)) continue
    progress(`${scenario.name} at ${scenario.rate} req/s, open loop (${shape.duration} s)`)
    rateResults.set(rateKey(scenario.name, scenario.rate), await Load.fixedRate(scenario.request, scenario.rate, shape))
  }

  print(scenarios, results, roundResults, bcryptPerSecond)
  printCpu(scenarios, cpu)
  printRates(rateScenarios, rateResults)

  await Servers.stopAll()
  if (profileDir !== undefined) {
    for (const name of profiledServices) {
      process.stdout.write(`\n${Profile.summary(name, join(profileDir, name))}`)
    }
  }

  // Past a service's capacity, an open loop's requests are shed (bulkheads, deadlines): that is
  // speed, not a broken scenario. A rate at which nothing succeeded is one.
  const broken = [
    ...[...results]
      .map(([name, figures]) => [name, figures.failures, figures.total] as const)
      .filter(([, failures, total]) => total - failures === 0 || failures > total * 0.01),
    ...[...rateResults]
      .map(([name, figures]) => [name, figures.failures, figures.sent] as const)
      .filter(([, failures, total]) => failures === total),
  ]
  if (broken.length > 0) {
    for (const [name, failures, total] of broken) {
      process.stderr.write(`bench: ${name}: ${failures} of ${total} requests failed\n`)
    }
    process.exitCode = 1
  }
}

/** Milliseconds, with a third decimal below one. */
const ms = (micros: number) => (micros / 1000).toFixed(micros < 1000 ? 3 : 2)

const print = (
  scenarios: ReadonlyArray<Scenario>,
  results: ReadonlyMap<string, Load.Figures>,
  roundResults: ReadonlyMap<string, ReadonlyArray<Load.Figures>>,
  bcryptPerSecond: number,
) => {
  const cpu = cpus()[0]?.model ?? "unknown CPU"
  const lines = [
    "",
    `${quick ? "quick run" : "full run"}: ${shape.duration} s per scenario after ${shape.warmup} s of warm-up, ${shape.connections} connections (HTTP/1.1 keep-alive; gRPC: 8 streams per HTTP/2 connection); ${availableParallelism()} cores (${cpu}), Node ${process.version}; load generator on the same cores`,
    "",
    "| scenario | req/s | p50 ms | p99 ms | p99.9 ms | failed | vs its baseline (req/s, p99) |",
    "|---|---:|---:|---:|---:|---:|---|",
  ]
  for (const scenario of scenarios) {
    const figures = results.get(scenario.name)
    if (figures === undefined) continue
    const base = scenario.baseline === undefined ? undefined : results.get(scenario.baseline)
    const versus =
      base === undefined
        ? scenario.name.startsWith("auth POST /auth/login")
          ? `${((figures.rps / bcryptPerSecond) * 100).toFixed(0)} % of the bcrypt limit (${bcryptPerSecond.toFixed(1)}/s)`
          : ""
        : `×${(figures.rps / base.rps).toFixed(2)}, p99 ×${(figures.p99 / base.p99).toFixed(2)} (${scenario.baseline})`
    const label = scenario.kind === "baseline" ? `baseline: ${scenario.name}` : scenario.name
    lines.push(
      `| ${label} | ${Math.round(figures.rps).toLocaleString("en")} | ${ms(figures.p50)} | ${ms(figures.p99)} | ${ms(figures.p999)} | ${figures.failures} | ${versus} |`,
    )
  }
  const target = (name: string, check: (figures: Load.Figures) => string) => {
    const figures = results.get(name)
    if (figures !== undefined) lines.push(`- ${check(figures)}`)
  }
  lines.push("", "Targets:")
  /** The median of the rounds' ratios to the plain chain, and each round's, in the order run. */
  const versusPlain = (name: string, protocol: string, figure: (figures: Load.Figures) => number) => {
    const ours = roundResults.get(name) ?? []
    const plain = roundResults.get(`plain greet chain, ${protocol}`) ?? []
    const ratios = ours.flatMap((figures, round) => {
      const base = plain[round]
      return base === undefined ? [] : [figure(figures) / figure(base)]
    })
    const sorted = [...ratios].sort((a, b) => a - b)
    const median = sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!
    return { median, ratios }
  }
  const roundsOf = (ratios: ReadonlyArray<number>) =>
    ratios.length <= 1 ? "" : `; median of ${ratios.length} rounds: ${ratios.map((r) => `×${r.toFixed(2)}`).join(", ")}`
  for (const protocol of PROTOCOLS) {
    const plain = results.get(`plain greet chain, ${protocol}`)
    target(`Greet, ${protocol}`, () => {
      if (plain === undefined) return `Greet, ${protocol}: no plain chain measured`
      const rps = versusPlain(`Greet, ${protocol}`, protocol, (figures) => figures.rps)
      const p99 = versusPlain(`Greet, ${protocol}`, protocol, (figures) => figures.p99)
      return `Greet direct, ${protocol}, vs the plain chain: ×${rps.median.toFixed(2)} req/s (target ≥ 1.0)${roundsOf(rps.ratios)}; p99 ×${p99.median.toFixed(2)} (target ≤ 1.0)${roundsOf(p99.ratios)}`
    })
    target(`Greet through the edge, ${protocol}`, () => {
      if (plain === undefined) return `Greet through the edge, ${protocol}: no plain chain measured`
      const rps = versusPlain(`Greet through the edge, ${protocol}`, protocol, (figures) => figures.rps)
      return `Greet through the edge, ${protocol}, vs the plain chain: ×${rps.median.toFixed(2)} req/s (target ≥ 0.8)${roundsOf(rps.ratios)}`
    })
  }
  target(
    "InvokeCustom, breaker open, 1 connection",
    (figures) => `open-breaker fast-fail p99: ${ms(figures.p99)} ms with the invocation's INSERT (target < 1 ms)`,
  )
  target(
    "InvokeCustom, breaker open, 1 connection, no database",
    (figures) => `open-breaker fast-fail p99 without a database: ${ms(figures.p99)} ms`,
  )
  target(
    "auth GET /verify",
    (figures) => `verify: ${Math.round(figures.rps).toLocaleString("en")} req/s (target ≥ 10,000)`,
  )
  target(
    "lang POST /invoke (with its INSERT)",
    (figures) => `lang: ${Math.round(figures.rps).toLocaleString("en")} req/s (target ≥ 6,000)`,
  )
  const scaling = (one: string, two: string, what: string) => {
    const [a, b] = [results.get(one), results.get(two)]
    if (a !== undefined && b !== undefined) {
      lines.push(`- ${what}: 2 workers ×${(b.rps / a.rps).toFixed(2)} the req/s of 1 (target ≥ 1.6)`)
    }
  }
  scaling(
    "lang POST /invoke, no database, 1 worker (wrk)",
    "lang POST /invoke, no database, 2 workers (wrk)",
    "lang, no database",
  )
  scaling("lang POST /invoke, 1 worker (wrk)", "lang POST /invoke, 2 workers (wrk)", "lang with its INSERT")
  scaling(
    "Greet, Connect JSON, 1 worker each (wrk)",
    "Greet, Connect JSON, greeter and caller on 2 workers each (wrk)",
    "the Greet chain",
  )
  if (!Wrk.available()) lines.push("- WORKERS scaling: not measured, wrk is not installed (apt-get install wrk)")
  process.stdout.write(`${lines.join("\n")}\n`)
}

main().catch(async (error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`)
  await Servers.stopAll().catch(() => {})
  process.exit(1)
})

/** The open-loop table: latencies from each request's slot, and what our stack adds at the same rate. */
/** CPU per request of each chain's processes, beside its baseline's: the figure noise moves least. */
const printCpu = (scenarios: ReadonlyArray<Scenario>, cpu: ReadonlyMap<string, Cpu.PerRequest>) => {
  if (cpu.size === 0) return
  const micros = (value: number) => Math.round(value).toLocaleString("en")
  const lines = [
    "",
    "CPU per request, user + system, each process of the chain (PostgreSQL, the external stand-in and the load generator not counted):",
    "",
    "| scenario | µs per request | by process | vs its baseline |",
    "|---|---:|---|---|",
  ]
  for (const scenario of scenarios) {
    const figures = cpu.get(scenario.name)
    if (figures === undefined) continue
    const base = scenario.baseline === undefined ? undefined : cpu.get(scenario.baseline)
    const label = scenario.kind === "baseline" ? `baseline: ${scenario.name}` : scenario.name
    const parts = figures.byProcess.map(([name, value]) => `${name} ${micros(value)}`).join(", ")
    // Less CPU per request is more requests a second: the ratio reads like the req/s one.
    const versus = base === undefined ? "" : `×${(base.total / figures.total).toFixed(2)} (${scenario.baseline})`
    lines.push(`| ${label} | ${micros(figures.total)} | ${parts} | ${versus} |`)
  }
  process.stdout.write(`${lines.join("\n")}\n`)
}

const printRates = (scenarios: ReadonlyArray<RateScenario>, results: ReadonlyMap<string, Load.RateFigures>) => {
  if (results.size === 0) return
  const lines = [
    "",
    `At a fixed rate (open loop, HTTP/1.1 keep-alive, ${shape.duration} s after ${shape.warmup} s of warm-up; latency from each request's slot; late: answered more than 10 ms after its slot):`,
    "",
    "| scenario | rate | p50 ms | p90 ms | p99 ms | max ms | late | failed | added over its baseline (p50 / p90 / p99 ms; p99 per hop) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
  ]
  for (const scenario of scenarios) {
    const figures = results.get(rateKey(scenario.name, scenario.rate))
    if (figures === undefined) continue
    const base = scenario.baseline === undefined ? undefined : results.get(rateKey(scenario.baseline, scenario.rate))
    const added = (key: "p50" | "p90" | "p99") => ms(figures[key] - (base?.[key] ?? 0))
    const versus =
      base === undefined
        ? ""
        : `${added("p50")} / ${added("p90")} / ${added("p99")}; ${ms((figures.p99 - base.p99) / (scenario.hops ?? 1))} per hop over ${scenario.hops ?? 1}`
    const label = scenario.kind === "baseline" ? `baseline: ${scenario.name}` : scenario.name
    lines.push(
      `| ${label} | ${scenario.rate.toLocaleString("en")}/s | ${ms(figures.p50)} | ${ms(figures.p90)} | ${ms(figures.p99)} | ${ms(figures.max)} | ${figures.late} | ${figures.failures} | ${versus} |`,
    )
  }
  const lag = Math.max(...[...results.values()].map((figures) => figures.driverLag))
  lines.push(
    "",
    `The driver fell at most ${ms(lag)} ms behind its schedule (each latency counts from the slot regardless).`,
  )
  process.stdout.write(`${lines.join("\n")}\n`)
}
