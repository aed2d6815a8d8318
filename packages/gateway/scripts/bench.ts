/**
 * `pnpm --dir packages/gateway bench [--quick]`: how fast an open breaker fails.
 *
 * 1. The primitive: `CircuitBreaker.execute` on an open breaker, in this process.
 * 2. End to end: InvokeCustom over Connect JSON against a gateway whose breaker is open
 *    (lang and gateway started as processes; with and without the gateway's database, since
 *    every outcome, a fast failure included, is recorded before the answer).
 * Latencies are measured one request at a time, so they are latencies, not queueing.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import * as CircuitBreaker from "@platform/shared/resilience/CircuitBreaker"
import { Effect } from "effect"

const quick = process.argv.includes("--quick")
const samples = quick ? 500 : 5000
const log = (line: string) => process.stdout.write(`${line}\n`)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

const summary = (values: Array<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN }
}

const primitive = async () => {
  const durations = await Effect.runPromise(
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make<string>({ name: "bench", readyToTrip: () => true })
      yield* Effect.exit(breaker.execute(Effect.fail("trip")))
      const measured: Array<number> = []
      for (let i = 0; i < samples * 10; i++) {
        const started = performance.now()
        yield* Effect.exit(breaker.execute(Effect.void))
        measured.push((performance.now() - started) * 1000)
      }
      return measured
    }),
  )
  return summary(durations.slice(samples)) // the first tenth warms up
}

const server = new URL(process.env.TEST_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres")
const databases: Array<string> = []

const start = async (main: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> => {
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const child = spawn(process.execPath, [fileURLToPath(new URL(main, import.meta.url))], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: "error", ...env },
    stdio: ["ignore", "inherit", "inherit"],
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${main} did not start`)
}

const database = () => {
  const name = `gateway_bench_${randomBytes(4).toString("hex")}`
  databases.push(name)
  const url = new URL(server.href)
  url.pathname = `/${name}`
  return url.href
}

const invoke = (base: string, name: string) =>
  fetch(`${base}/gateway.v1.GatewayService/InvokeCustom`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  }).then((response) => response.json() as Promise<{ code?: string; message?: string }>)

const endToEnd = async (gateway: string) => {
  for (let i = 0; i < 5; i++) await invoke(gateway, "unavailable")
  const check = await invoke(gateway, "anyone")
  if (check.message !== "circuit breaker is open") throw new Error(`the breaker did not open: ${JSON.stringify(check)}`)
  const durations: Array<number> = []
  for (let i = 0; i < samples + 200; i++) {
    const started = performance.now()
    await invoke(gateway, "anyone")
    durations.push(performance.now() - started)
  }
  return summary(durations.slice(200))
}

const main = async () => {
  log(`gateway bench: open-breaker fast-fail, ${samples} samples each, Node ${process.version}`)
  const children: Array<ChildProcess> = []
  try {
    const fast = await primitive()
    const lang = await start("../../lang/src/main.ts", {})
    children.push(lang.child)
    const plain = await start("../src/main.ts", { CUSTOM_LANG_BASE_URL: lang.url, GATEWAY_RETRY_BUDGET_CAPACITY: "0" })
    children.push(plain.child)
    const recorded = await start("../src/main.ts", {
      CUSTOM_LANG_BASE_URL: lang.url,
      GATEWAY_RETRY_BUDGET_CAPACITY: "0",
      DATABASE_URL: database(),
    })
    children.push(recorded.child)
    const withoutDb = await endToEnd(plain.url)
    const withDb = await endToEnd(recorded.url)
    log("")
    log("| what | p50 | p99 | max |")
    log("|---|---:|---:|---:|")
    log(
      `| CircuitBreaker.execute, open (in process) | ${fast.p50.toFixed(1)} µs | ${fast.p99.toFixed(1)} µs | ${fast.max.toFixed(1)} µs |`,
    )
    for (const [what, figures] of [
      ["InvokeCustom, open breaker, no database (HTTP round trip)", withoutDb],
      ["InvokeCustom, open breaker, invocation recorded (HTTP + INSERT)", withDb],
    ] as const) {
      log(`| ${what} | ${figures.p50.toFixed(2)} ms | ${figures.p99.toFixed(2)} ms | ${figures.max.toFixed(2)} ms |`)
    }
  } finally {
    for (const child of children) child.kill("SIGTERM")
    await new Promise((resolve) => setTimeout(resolve, 500))
    if (databases.length > 0) {
      const { PgClient } = await import("@effect/sql-pg")
      const { Redacted } = await import("effect")
      const { Reactivity } = await import("effect/reactivity")
      await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(PgClient.make({ url: Redacted.make(server.href), maxConnections: 1 }), (sql) =>
            Effect.forEach(databases, (name) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`),
          ),
        ).pipe(Effect.provide(Reactivity.layer)),
      )
    }
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
