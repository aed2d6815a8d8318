/**
 * `./platform start` / `./platform dev`: the whole platform on one machine, with an embedded
 * PostgreSQL unless `DATABASE_URL_BASE` names a server, a local stand-in for the external API
 * unless `EXTERNAL_API_URL` names one, the five services and the edge on port 30081 serving the
 * web console (built first when its sources changed). Every service is supervised: one that
 * exits or stops answering is reported by name and started again. Ctrl-C stops the services
 * (each drains), then the database; the exit code is 0.
 */
import { createHash } from "node:crypto"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import * as EmbeddedPostgres from "@platform/embedded-postgres"
import * as Database from "@platform/shared/Database"
import { Cause, Context, Deferred, Duration, Effect, Exit, Layer, Logger, Option } from "effect"
import { HttpServer } from "effect/http"
import * as Banner from "./Banner.ts"
import * as Dashboard from "./dashboard/Dashboard.ts"
import * as ExternalStub from "./ExternalStub.ts"
import { printer } from "./LogPrinter.ts"
import * as Ports from "./Ports.ts"
import { EMBEDDED_POSTGRES_PORT, EXTERNAL_STUB_PORT, type Name, services } from "./Services.ts"
import * as Supervisor from "./Supervisor.ts"
import * as WebConsole from "./WebConsole.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const mode = process.argv[2] === "dev" ? "dev" : "start"
const READY_TIMEOUT = Duration.seconds(90)

const say = printer("platform", 7)
const platformLogger = Logger.make(({ message, logLevel }) =>
  say(
    JSON.stringify({
      time: new Date().toISOString(),
      level: logLevel.toLowerCase(),
      service: "platform",
      message: Array.isArray(message) ? message.join(" ") : String(message),
    }),
  ),
)

const postgresLog = printer("postgres", 6)
const worthShowing = (line: string) => /ERROR|FATAL|PANIC|WARNING|ready to accept/.test(line)

const redact = (url: URL) => url.href.replace(/:[^:@/]*@/, ":***@")

/** The database server: the user's, or an embedded one for the lifetime of the run. */
const databaseServer = (offset: number) =>
  Effect.gen(function* () {
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
    // A development server on loopback with a fixed password: shown whole, so it can be pasted.
    return {
      url: started.url,
      description: `${started.url.href}/<service>_db (embedded, data in ${dataDir.startsWith(root) ? path.relative(root, dataDir) : dataDir})`,
    }
  })

/**
 * Set the moment Ctrl-C (or SIGTERM) arrives: the terminal signals the services too, and a
 * service that exits then is stopping with the platform, not crashing.
 */
let stopping = false
for (const signal of ["SIGINT", "SIGTERM"] as const) process.prependListener(signal, () => (stopping = true))

const program = Effect.gen(function* () {
  const started = Date.now()
  const offset = yield* Ports.offsetFrom(process.env.PLATFORM_PORT_OFFSET, [
    ["the external API stand-in", EXTERNAL_STUB_PORT],
    ["the embedded PostgreSQL", EMBEDDED_POSTGRES_PORT],
  ])
  const portOf = (name: Name) => (services.find((spec) => spec.name === name)?.port ?? 0) + offset
  const at = (name: Name) => `http://127.0.0.1:${portOf(name)}`

  // Every port first: a conflict is reported by name before anything starts.
  const external = process.env.EXTERNAL_API_URL?.trim()
  yield* Effect.forEach(services, (spec) => Supervisor.checkPort(spec.name, portOf(spec.name)))
  if (!external) yield* Supervisor.checkPort("external API stand-in", EXTERNAL_STUB_PORT + offset)

  yield* WebConsole.ensureBuilt(root)
  const server = yield* databaseServer(offset)
  for (const spec of services) {
    if (spec.database !== undefined) yield* Database.createDatabase(Database.withDatabase(server.url, spec.database))
  }

  const externalUrl =
    external ||
    (yield* Effect.acquireRelease(
      Effect.promise(() => ExternalStub.start(EXTERNAL_STUB_PORT + offset)),
      (stub) => Effect.promise(stub.close),
    )).url

  // The console's services map and traces. Every service sends its traces here, unless the
  // user pointed them at a collector of their own.
  const dashboard = yield* Layer.build(
    Dashboard.layer({
      port: 0,
      targets: services.map((spec) => ({
        name: spec.name,
        port: portOf(spec.name),
        health: spec.health,
        database: spec.database,
        calls: spec.calls ?? [],
      })),
    }),
  )
  const address = Context.get(dashboard, HttpServer.HttpServer).address
  const dashboardPort = address._tag === "UnixPathAddress" ? 0 : address.port
  const ownCollector = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].some((name) =>
    Boolean(process.env[name]?.trim()),
  )
  const tracing: Record<string, string> = ownCollector
    ? {}
    : {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${dashboardPort}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
        // A request's trace in the console within a second, not the SDK's 5 s.
        OTEL_BSP_SCHEDULE_DELAY: "500",
      }

  const banner = Banner.make({ mode, portOf, database: server.description, external: externalUrl })
  const printers = new Map<string, (line: string) => void>(
    services.map((spec, index) => [spec.name, printer(spec.name, index)]),
  )
  const onEvent = (event: Supervisor.Event): Effect.Effect<void> => {
    switch (event._tag) {
      case "Crashed":
        return Effect.andThen(
          Effect.logError(`${event.name} stopped: ${event.reason}; restarting it. Its last lines were:`),
          Effect.sync(() => {
            for (const line of event.lastLines) printers.get(event.name)?.(line)
          }),
        )
      case "Changed":
        return Effect.logInfo(`${event.name}: ${event.files.join(", ")} changed; restarting it`)
      case "Ready":
        return Effect.sync(() => banner.again(event.name))
    }
  }

  const supervised = yield* Effect.forEach(services, (spec, index) =>
    Supervisor.supervise(spec, {
      root,
      port: portOf(spec.name),
      watch: mode === "dev",
      print: printers.get(spec.name) ?? printer(spec.name, index),
      onEvent,
      readyTimeout: READY_TIMEOUT,
      stopping: () => stopping,
      env: {
        // A laptop's platform is for the laptop: nothing listens beyond loopback unless asked.
        HOST: process.env.PLATFORM_HOST?.trim() || "127.0.0.1",
        ...(spec.database === undefined ? {} : { DATABASE_URL: Database.withDatabase(server.url, spec.database).href }),
        // Rows held through a database outage survive a crash here (replayed at the next start).
        ...(spec.database === undefined ? {} : { SPOOL_DIR: path.join(root, ".data", "spool", spec.name) }),
        ...(spec.name === "edge"
          ? { EDGE_WEB_DIR: WebConsole.distDir(root), EDGE_DASHBOARD_URL: `http://127.0.0.1:${dashboardPort}` }
          : {}),
        ...tracing,
        ...spec.env(at, externalUrl),
      },
    }),
  )
  if (mode === "dev") yield* WebConsole.watch(root, services.length)
  yield* Effect.forEach(supervised, (service) => Deferred.await(service.ready), {
    concurrency: "unbounded",
    discard: true,
  })
  banner.first(started)

  // From now on the supervisors restart what stops; the platform stops only when one gives up.
  return yield* Effect.raceAllFirst(supervised.map((service) => Deferred.await(service.failed)))
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
