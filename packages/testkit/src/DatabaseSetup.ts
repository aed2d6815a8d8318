import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as EmbeddedPostgres from "@platform/embedded-postgres"
import { Effect, Exit, Logger, Scope } from "effect"

/**
 * Vitest's global setup for suites that need PostgreSQL: it finds or starts one server for the
 * whole run, and every test file then creates a database of its own on it (`TestDatabase`).
 *
 * 1. `TEST_DATABASE_URL` when set (any database on the server you name).
 * 2. Otherwise, when a Docker engine answers, PostgreSQL 17 in a container (testcontainers).
 * 3. Otherwise the embedded PostgreSQL `./platform start` uses (binaries from the npm registry),
 *    on a free loopback port, its data in a temporary folder removed afterwards.
 *
 * It says in one line which server the run uses; when none can be had, it says in one sentence
 * what to do, and the run stops there.
 */

type Stop = () => Promise<void>

const say = (line: string) => process.stdout.write(`${line}\n`)

const redact = (url: URL) => {
  const copy = new URL(url.href)
  if (copy.password !== "") copy.password = "***"
  return copy.href
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

/** Whether a Docker engine answers `/_ping` (DOCKER_HOST or the default socket), within a second. */
const dockerAnswers = () =>
  new Promise<boolean>((resolve) => {
    const host = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock"
    const target = host.startsWith("unix://")
      ? { socketPath: host.slice("unix://".length) }
      : {
          host: new URL(host.replace(/^tcp:/, "http:")).hostname,
          port: Number(new URL(host.replace(/^tcp:/, "http:")).port),
        }
    if ("socketPath" in target && !existsSync(target.socketPath)) return resolve(false)
    const request = http.get({ ...target, path: "/_ping", timeout: 1000 }, (response) => {
      response.resume()
      resolve(response.statusCode === 200)
    })
    request.on("timeout", () => request.destroy())
    request.on("error", () => resolve(false))
  })

const container = async (): Promise<{ url: URL; stop: Stop; description: string }> => {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql")
  const started = await new PostgreSqlContainer("postgres:17-alpine").withDatabase("postgres").start()
  const url = new URL(started.getConnectionUri())
  return {
    url,
    stop: async () => {
      await started.stop()
    },
    description: `PostgreSQL 17 in a container (testcontainers) at ${redact(url)}`,
  }
}

const embedded = async (): Promise<{ url: URL; stop: Stop; description: string }> => {
  const folder = mkdtempSync(join(tmpdir(), "tests-postgres-"))
  // As root, PostgreSQL runs as the postgres user, which must be able to reach the folder.
  chmodSync(folder, 0o755)
  const scope = Scope.makeUnsafe()
  const removeFolder = () => rmSync(folder, { recursive: true, force: true })
  try {
    const port = await freePort()
    const started = await Effect.runPromise(
      EmbeddedPostgres.start({
        dataDir: join(folder, "data"),
        port,
        user: "postgres",
        password: "postgres",
        onLog: () => {},
        // A test server: throwaway data, so durability is traded for speed, and room for every
        // file's services and pools at once.
        settings: { max_connections: 400, fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
      }).pipe(Scope.provide(scope), Effect.provide(Logger.layer([]))),
    )
    const url = new URL(`${started.url.href.replace(/\/$/, "")}/postgres`)
    return {
      url,
      stop: async () => {
        await Effect.runPromise(Scope.close(scope, Exit.void))
        removeFolder()
      },
      description: `the embedded PostgreSQL on 127.0.0.1:${port} (data in ${folder}, removed afterwards)`,
    }
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    removeFolder()
    throw error
  }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]

export default async function setup(): Promise<Stop | undefined> {
  const given = process.env.TEST_DATABASE_URL?.trim()
  if (given) {
    say(`tests: PostgreSQL at ${redact(new URL(given))} (TEST_DATABASE_URL)`)
    return undefined
  }
  try {
    const server = (await dockerAnswers()) ? await container() : await embedded()
    process.env.TEST_DATABASE_URL = server.url.href
    say(`tests: ${server.description}`)
    return server.stop
  } catch (error) {
    process.stderr.write(
      "tests: no PostgreSQL could be had: set TEST_DATABASE_URL=postgresql://user:pass@host:port/postgres " +
        `to use a server of yours, or run ./platform install to restore the embedded one (${message(error)}).\n`,
    )
    process.exit(1)
  }
}
