/**
 * `pnpm start` / `pnpm dev` at the root: the whole platform on one machine, with an embedded
 * PostgreSQL unless `DATABASE_URL_BASE` names a server, a local stand-in for the external API
 * unless `EXTERNAL_API_URL` names one, the five services, and the edge on port 30081 serving the
 * web console (built first when its sources changed).
 * Ctrl-C stops the services (each drains), then the database; the exit code is 0.
 */
import { createHash } from "node:crypto"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import * as Database from "@platform/shared/Database"
import { Cause, Deferred, Duration, Effect, Exit, Logger, Option } from "effect"
import * as EmbeddedPostgres from "./EmbeddedPostgres.ts"
import * as ExternalStub from "./ExternalStub.ts"
import { printer } from "./LogPrinter.ts"
import { EMBEDDED_POSTGRES_PORT, EXTERNAL_STUB_PORT, type Name, services } from "./Services.ts"
import * as Supervisor from "./Supervisor.ts"
import * as WebConsole from "./WebConsole.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const mode = process.argv[2] === "dev" ? "dev" : "start"
const offset = Number(process.env.PLATFORM_PORT_OFFSET ?? 0)
const portOf = (name: Name) => (services.find((spec) => spec.name === name)?.port ?? 0) + offset
const at = (name: Name) => `http://127.0.0.1:${portOf(name)}`
const READY_TIMEOUT = Duration.seconds(90)

const say = printer("platform", 7)
const platformLogger = Logger.make(({ message, logLevel }) =>
  say(
    JSON.stringify({
      time: new Date().toISOString(),
      level: logLevel.toLowerCase(),
      message: Array.isArray(message) ? message.join(" ") : String(message),
    }),
  ),
)

const postgresLog = printer("postgres", 6)
const worthShowing = (line: string) => /ERROR|FATAL|PANIC|WARNING|ready to accept/.test(line)

const redact = (url: URL) => url.href.replace(/:[^:@/]*@/, ":***@")

/** The database server: the user's, or an embedded one for the lifetime of the run. */
const databaseServer = Effect.gen(function* () {
  const given = process.env.DATABASE_URL_BASE?.trim()
  if (given) {
    const url = new URL(given)
    url.pathname = ""
    yield* Effect.logInfo(`using the PostgreSQL server at ${redact(url)}`)
    return { url, description: `${redact(url)} (DATABASE_URL_BASE)` }
  }
  const chosen = process.env.EMBEDDED_POSTGRES_DIR?.trim()
  const dataDir = chosen || path.join(root, ".data", "postgres")
  // As root the server runs as `postgres`; if it cannot reach the repository, a folder of its own.
  const fallbackDataDir = chosen
    ? undefined
    : path.join("/var/tmp/effect-platform", createHash("sha256").update(root).digest("hex").slice(0, 12), "postgres")
  const port = Number(process.env.EMBEDDED_POSTGRES_PORT ?? EMBEDDED_POSTGRES_PORT + offset)
  yield* Supervisor.checkPort("embedded PostgreSQL", port)
  const started = yield* EmbeddedPostgres.start({
    dataDir,
    fallbackDataDir,
    port,
    user: "postgres",
    password: "postgres",
    onLog: (line) => (worthShowing(line) ? postgresLog(line) : undefined),
  })
  return {
    url: started.url,
    description: `${redact(started.url)} (embedded, data in ${path.relative(root, dataDir) || dataDir})`,
  }
})

const createDatabases = (server: URL, names: ReadonlyArray<string>) =>
  Effect.forEach(names, (name) => Database.createDatabase(Database.withDatabase(server, name)), { discard: true })

const databaseUrl = (server: URL, name: string) => Database.withDatabase(server, name).href

const banner = (started: number, database: string, external: string) => {
  const edge = `http://localhost:${portOf("edge")}`
  const account = `'{"email":"ada@example.com","password":"correct horse battery"}'`
  const json = "-H 'content-type: application/json'"
  const lines = [
    "",
    `platform ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${mode}): every service answers its health check`,
    `  edge      ${edge}        (the entry point: web console at /, the APIs below)`,
    ...services
      .filter((spec) => spec.name !== "edge")
      .map((spec) => `  ${spec.name.padEnd(9)} http://localhost:${portOf(spec.name)}`),
    `  database  ${database}`,
    `  external  ${external}   (what greeter asks caller to fetch)`,
    "",
    "Try it (through the edge; Greet and InvokeCustom need a token):",
    `  curl -s ${edge}/auth/register ${json} -d ${account}`,
    `  TOKEN=$(curl -s ${edge}/auth/login ${json} -d ${account} | sed -E 's/.*"token":"([^"]+)".*/\\1/')`,
    `  curl -s ${edge}/greeter.v1.GreeterService/Greet ${json} -H "authorization: Bearer $TOKEN" -d '{"name":"Ada"}'`,
    `  curl -s ${edge}/gateway.v1.GatewayService/InvokeCustom ${json} -H "authorization: Bearer $TOKEN" -d '{"name":"Ada"}'`,
    "",
    mode === "dev"
      ? "Watching sources: a service restarts when its code changes. Ctrl-C stops everything."
      : "Ctrl-C stops everything.",
    "",
  ]
  process.stdout.write(`${lines.join("\n")}\n`)
}

const program = Effect.gen(function* () {
  const started = Date.now()
  // Every port first: a conflict is reported by name before anything starts.
  const external = process.env.EXTERNAL_API_URL?.trim()
  yield* Effect.forEach(services, (spec) => Supervisor.checkPort(spec.name, portOf(spec.name)))
  if (!external) yield* Supervisor.checkPort("external API stand-in", EXTERNAL_STUB_PORT + offset)

  yield* WebConsole.ensureBuilt(root)
  const server = yield* databaseServer
  const databases = services.flatMap((spec) => (spec.database === undefined ? [] : [spec.database]))
  yield* createDatabases(server.url, databases)

  const externalUrl =
    external ||
    (yield* Effect.acquireRelease(
      Effect.promise(() => ExternalStub.start(EXTERNAL_STUB_PORT + offset)),
      (stub) => Effect.promise(stub.close),
    )).url

  const running = yield* Effect.forEach(services, (spec, index) =>
    Supervisor.run(spec, {
      root,
      port: portOf(spec.name),
      watch: mode === "dev",
      index,
      env: {
        ...(spec.database === undefined ? {} : { DATABASE_URL: databaseUrl(server.url, spec.database) }),
        ...(spec.name === "edge" ? { EDGE_WEB_DIR: WebConsole.distDir(root) } : {}),
        ...spec.env(at, externalUrl),
      },
    }),
  )
  if (mode === "dev") yield* WebConsole.watch(root, services.length)
  yield* Effect.forEach(running, (service) => Supervisor.healthy(service, READY_TIMEOUT), {
    concurrency: "unbounded",
    discard: true,
  })
  banner(started, server.description, externalUrl)

  // From now on a service that stops by itself stops the platform (in dev mode `--watch`
  // keeps a crashed service's watcher alive until its code changes).
  return yield* Effect.raceAll(
    running.map((service) =>
      Effect.flatMap(Deferred.await(service.exited), (code) =>
        Effect.fail(
          new Supervisor.ServiceFailed({
            name: service.spec.name,
            reason: service.lastError() ?? `it exited with code ${code}`,
          }),
        ),
      ),
    ),
  )
}).pipe(
  // Said before the scope closes, so the reason comes before the services' shutdown lines.
  Effect.onError((cause) =>
    Cause.hasInterruptsOnly(cause)
      ? Effect.logInfo("stopping: each service drains, then the database stops")
      : Effect.logError(`${describe(cause)}; stopping the rest`),
  ),
  Effect.scoped,
  Effect.onInterrupt(() => Effect.logInfo("stopped")),
  Effect.provide(Logger.layer([platformLogger])),
)

const describe = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure) && failure.value instanceof Error) return failure.value.message
  return Cause.pretty(cause)
}

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1),
})
