import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import { freePort, type Running, start } from "@platform/testkit/Processes"
import pg from "pg"

/**
 * What the benchmark measures, each in its own process as it runs in production: the
 * platform's services (`node packages/<name>/src/main.ts`) on fresh databases, the baselines
 * (`bench/servers/*.ts`), and the external stand-in. Everything is stopped, and every database
 * dropped, when the run ends.
 */
const root = fileURLToPath(new URL("..", import.meta.url))

export const serverUrl = () => new URL(process.env.TEST_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres")

export interface Server {
  readonly name: string
  readonly url: string
  readonly running: Running
}

const started: Array<Server> = []
const databases: Array<string> = []
const run = randomBytes(3).toString("hex")

const admin = async <A>(f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: serverUrl().href })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** A new database on the server, dropped at the end; its URL. `ddl` runs in it first. */
export const database = async (name: string, ddl?: string) => {
  const database = `bench_${run}_${name}`
  await admin((client) => client.query(`CREATE DATABASE ${database}`))
  databases.push(database)
  const url = new URL(serverUrl().href)
  url.pathname = `/${database}`
  if (ddl !== undefined) {
    const client = new pg.Client({ connectionString: url.href })
    await client.connect()
    await client.query(ddl)
    await client.end()
  }
  return url.href
}

/** Resolves once `url` answers 200, or fails when the process exits or a minute passes. */
const healthy = async (url: string, running: Running) => {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (running.child.exitCode !== null) break
    try {
      if ((await fetch(url)).ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const fatal = running.lines.find((line) => line.level === "fatal")
  throw new Error(String(fatal?.message ?? `no answer from ${url}\n${running.stderr()}`))
}

/**
 * Starts a TypeScript entry point with `env` on a free port, logging only warnings (a service
 * under load logs nothing per request anyway); resolves once `health` answers, or for a
 * baseline, once it prints `ready`.
 */
export const serve = async (
  name: string,
  script: string,
  options: {
    readonly env?: Record<string, string>
    readonly health?: string
    readonly nodeOptions?: ReadonlyArray<string>
  } = {},
): Promise<Server> => {
  const port = await freePort()
  const running = start(script, { PORT: String(port), LOG_LEVEL: "warn", ...options.env }, options.nodeOptions)
  const server = { name, url: `http://127.0.0.1:${port}`, running }
  started.push(server)
  const ready =
    options.health === undefined
      ? running.waitFor((line) => line.raw === "ready", 60_000)
      : healthy(`${server.url}${options.health}`, running)
  await ready.catch((error: Error) => {
    throw new Error(`${name} did not start: ${error.message}`)
  })
  const workers = Number(options.env?.WORKERS ?? 1)
  if (workers > 1) await allWorkers(server.url, workers, running)
  return server
}

/** The port answers once the first worker listens: wait until every worker's series are in `/metrics`. */
const allWorkers = async (url: string, workers: number, running: Running) => {
  for (let attempt = 0; attempt < 200; attempt++) {
    const text = await fetch(`${url}/metrics`).then(
      (response) => response.text(),
      () => "",
    )
    const seen = Array.from({ length: workers }, (_, i) => text.includes(`worker="${i + 1}"`))
    if (seen.every(Boolean)) return
    if (running.child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url}: not every one of its ${workers} workers answered\n${running.stderr()}`)
}

export const service = (name: string) => `${root}packages/${name}/src/main.ts`
export const baseline = (name: string) => `${root}bench/servers/${name}.ts`

/** SIGTERM to everything started (each drains and exits), then the databases are dropped. */
export const stopAll = async () => {
  await Promise.all(
    started.splice(0).map(async (server) => {
      if (server.running.child.exitCode !== null) return
      server.running.child.kill("SIGTERM")
      await Promise.race([server.running.exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
      if (server.running.child.exitCode === null) server.running.child.kill("SIGKILL")
    }),
  )
  await admin(async (client) => {
    for (const name of databases.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  })
}
