/**
 * `pnpm --dir packages/auth bench [--duration 10] [--quick]`: auth under load on this machine.
 *
 * Starts auth as its own process on a fresh database (on `TEST_DATABASE_URL`'s server, or the
 * local one), then drives it with autocannon from this process over loopback and prints login/s
 * and verify/s with their latencies, next to the bcrypt limit measured in the same run: the
 * number of cost-10 hashes the machine's cores can do per second. A script that prints figures,
 * not a test: nothing here passes or fails on a number.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import bcrypt from "bcrypt"
import { COST } from "../src/Passwords.ts"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const durationIndex = args.indexOf("--duration")
const duration = durationIndex >= 0 ? Number(args[durationIndex + 1]) : quick ? 2 : 10

const server = new URL(process.env.TEST_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres")
const database = `auth_bench_${randomBytes(4).toString("hex")}`
const databaseUrl = new URL(server.href)
databaseUrl.pathname = `/${database}`
const port = 18_090 + Math.floor(Math.random() * 1000)
const base = `http://127.0.0.1:${port}`

const log = (line: string) => process.stdout.write(`${line}\n`)

const startAuth = async (): Promise<ChildProcess> => {
  const child = spawn(process.execPath, [fileURLToPath(new URL("../src/main.ts", import.meta.url))], {
    env: { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl.href, LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  })
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return child
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill()
  throw new Error("auth did not become healthy")
}

const dropDatabase = async () => {
  const { PgClient } = await import("@effect/sql-pg")
  const { Effect, Redacted } = await import("effect")
  const { Reactivity } = await import("effect/reactivity")
  await Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        PgClient.make({ url: Redacted.make(server.href), maxConnections: 1 }),
        (sql) => sql`DROP DATABASE IF EXISTS ${sql(database)} WITH (FORCE)`,
      ),
    ).pipe(Effect.provide(Reactivity.layer)),
  )
}

const post = (path: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  })

interface Figures {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
}

const load = (options: autocannon.Options) =>
  new Promise<Figures>((resolve, reject) =>
    autocannon({ ...options, duration }, (error, result) => {
      if (error) return reject(error)
      resolve({
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx + result.timeouts,
      })
    }),
  )

/** Cost-10 hashes per second the machine's cores can do: cores ÷ the time of one hash. */
const bcryptLimit = async () => {
  await bcrypt.hash("warm-up password", COST)
  const rounds = quick ? 5 : 20
  const started = performance.now()
  for (let i = 0; i < rounds; i++) await bcrypt.hash(`password number ${i}`, COST)
  const oneHashMs = (performance.now() - started) / rounds
  return { oneHashMs, perSecond: (availableParallelism() / oneHashMs) * 1000 }
}

const main = async () => {
  log(`auth bench: ${duration} s per scenario, ${availableParallelism()} cores, Node ${process.version}`)
  const limit = await bcryptLimit()
  log(`bcrypt cost ${COST}: ${limit.oneHashMs.toFixed(1)} ms per hash -> limit ${limit.perSecond.toFixed(1)} hashes/s`)
  const child = await startAuth()
  try {
    const email = `bench-${randomBytes(4).toString("hex")}@example.com`
    const password = "correct horse battery"
    await post("/auth/register", { email, password })
    const { token } = (await (await post("/auth/login", { email, password })).json()) as { token: string }

    const verify = await load({
      url: `${base}/verify`,
      connections: 50,
      headers: { authorization: `Bearer ${token}` },
    })
    const login = await load({
      url: `${base}/auth/login`,
      method: "POST",
      connections: 8,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    })
    const rows: Array<[string, Figures, string]> = [
      ["GET /verify (50 connections)", verify, "target >= 10,000 req/s"],
      [
        "POST /auth/login (8 connections)",
        login,
        `${((login.rps / limit.perSecond) * 100).toFixed(0)} % of the bcrypt limit (target >= 90 %)`,
      ],
    ]
    log("")
    log("| scenario | req/s | p50 ms | p99 ms | errors | note |")
    log("|---|---:|---:|---:|---:|---|")
    for (const [name, figures, note] of rows) {
      log(`| ${name} | ${figures.rps.toFixed(0)} | ${figures.p50} | ${figures.p99} | ${figures.errors} | ${note} |`)
    }
    log(
      `| bcrypt limit (${availableParallelism()} cores / ${limit.oneHashMs.toFixed(1)} ms) | ${limit.perSecond.toFixed(1)} | | | | |`,
    )
  } finally {
    child.kill("SIGTERM")
    await new Promise((resolve) => child.once("exit", resolve))
    await dropDatabase()
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
