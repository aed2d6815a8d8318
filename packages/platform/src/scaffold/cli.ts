/**
 * `./platform new-service <name> [--kind rest|connect] [--port N] [--route /prefix] [--public] [--dry-run]`
 * and `./platform remove-service <name> [--dry-run]`: a team's service in the platform's shape,
 * registered everywhere a service is named, or taken out of all of them again.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { TeamService } from "@platform/contracts/TeamServices"
import { Effect, Schema } from "effect"
import { EMBEDDED_POSTGRES_PORT, EXTERNAL_STUB_PORT, services } from "../Services.ts"
import { connectRoute, type Kind, problem, type Request } from "./Names.ts"
import { type Change, type Files, planNew, planRemove, ScaffoldError } from "./Plan.ts"

const root = fileURLToPath(new URL("../../../..", import.meta.url))
const REGISTRY = "packages/contracts/src/team-services.json"

const files: Files = {
  read: (file) => {
    const full = path.join(root, file)
    return fs.existsSync(full) ? fs.readFileSync(full, "utf8") : undefined
  },
  list: (dir) => {
    const full = path.join(root, dir)
    if (!fs.existsSync(full)) return []
    return (fs.readdirSync(full, { recursive: true, withFileTypes: true }) as Array<fs.Dirent>)
      .filter(
        (entry) => entry.isFile() && !path.relative(full, entry.parentPath).split(path.sep).includes("node_modules"),
      )
      .map((entry) => path.relative(full, path.join(entry.parentPath, entry.name)))
      .sort()
  },
}

/** The registry as written now (not as this process imported it). */
const registry = Effect.try({
  try: () => JSON.parse(files.read(REGISTRY) ?? "[]") as unknown,
  catch: () => new ScaffoldError({ message: `${REGISTRY} is not valid JSON` }),
}).pipe(
  Effect.flatMap(Schema.decodeUnknownEffect(Schema.Array(TeamService))),
  Effect.mapError((error) => new ScaffoldError({ message: `${REGISTRY}: ${error.message}` })),
)

/**
 * The edge's routing table, read from its source: the edge's tests depend on this package, so
 * depending on the edge here would make the workspace a cycle.
 */
const edgeRoutes = Effect.promise(
  () =>
    import(new URL("../../../edge/src/Routes.ts", import.meta.url).href) as Promise<{
      readonly routes: ReadonlyArray<{ readonly prefix: string; readonly name: string }>
    }>,
).pipe(Effect.map((module) => module.routes))

const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

const show = (changes: ReadonlyArray<Change>) =>
  Effect.forEach(changes, (change) => say(`  ${change.action.padEnd(6)} ${change.path}`), { discard: true })

const apply = (changes: ReadonlyArray<Change>) =>
  Effect.sync(() => {
    for (const change of changes) {
      const full = path.join(root, change.path)
      if (change.action === "delete") {
        fs.rmSync(full, { force: true })
      } else {
        fs.mkdirSync(path.dirname(full), { recursive: true })
        fs.writeFileSync(full, change.text ?? "")
      }
    }
  })

/** A command the generator runs after writing (buf, pnpm), its output shown as progress. */
const run = (what: string, command: string, args: ReadonlyArray<string>, cwd = root) =>
  say(`${what}...`).pipe(
    Effect.andThen(
      Effect.try({
        try: () => execFileSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"] }),
        catch: () => new ScaffoldError({ message: `${what} failed: ${command} ${args.join(" ")}` }),
      }),
    ),
  )

const install = run("linking the workspace (pnpm install)", "pnpm", [
  "install",
  "--prefer-offline",
  "--no-frozen-lockfile",
])

const newService = Effect.fnUntraced(function* (args: ReadonlyArray<string>) {
  const { values, positionals } = yield* Effect.try({
    try: () =>
      parseArgs({
        args: [...args],
        allowPositionals: true,
        options: {
          kind: { type: "string", default: "rest" },
          port: { type: "string" },
          route: { type: "string" },
          public: { type: "boolean", default: false },
          "dry-run": { type: "boolean", default: false },
        },
      }),
    catch: (error) => new ScaffoldError({ message: (error as Error).message }),
  })
  const [name, ...extra] = positionals
  if (name === undefined || extra.length > 0) {
    return yield* new ScaffoldError({
      message:
        "usage: ./platform new-service <name> [--kind rest|connect] [--port N] [--route /prefix] [--public] [--dry-run]",
    })
  }
  if (values.kind !== "rest" && values.kind !== "connect") {
    return yield* new ScaffoldError({ message: `--kind must be rest or connect, got ${JSON.stringify(values.kind)}` })
  }
  const kind: Kind = values.kind
  if (kind === "connect" && values.route !== undefined) {
    return yield* new ScaffoldError({
      message: `--route is for REST services; a Connect service is routed at its own path (${connectRoute(name)})`,
    })
  }
  const current = yield* registry
  const port = values.port === undefined ? nextPort(current) : Number(values.port)
  const request: Request = {
    name,
    kind,
    port,
    route: kind === "connect" ? connectRoute(name) : (values.route ?? `/${name}`),
    public: values.public,
  }
  const wrong = problem(request, {
    services: services.map((spec) => ({ name: spec.name, port: spec.port })),
    ports: [
      { port: EMBEDDED_POSTGRES_PORT, by: "the embedded PostgreSQL" },
      { port: EXTERNAL_STUB_PORT, by: "the external API stand-in" },
    ],
    routes: yield* edgeRoutes,
    packages: fs.readdirSync(path.join(root, "packages")),
  })
  if (wrong !== undefined) return yield* new ScaffoldError({ message: wrong })
  const changes = yield* planNew(files, request, current)
  if (values["dry-run"]) {
    yield* say(`./platform new-service ${name} would (nothing written):`)
    return yield* show(changes)
  }
  yield* apply(changes)
  yield* say(
    `${name}: a ${kind} service on port ${port}, routed at ${request.route}${request.public ? " (public)" : ""}`,
  )
  yield* show(changes)
  // Linked first: `pnpm run` checks the workspace's dependencies before it runs a script.
  yield* install
  if (kind === "connect")
    yield* run("generating its Connect code (buf generate)", "pnpm", ["--dir", "proto-compat", "generate"])
  yield* say(
    [
      "",
      "next:",
      `  ./platform test                      its tests run with everyone's (packages/${name}/test)`,
      `  ./platform start                     ${name} on ${port}, through the edge at http://localhost:30081${request.route}`,
      `  ./platform remove-service ${name}    undoes all of the above`,
    ].join("\n"),
  )
})

/** The first free port from 8100: the contract's own are below it. */
const nextPort = (current: ReadonlyArray<TeamService>) => {
  const used = new Set([...services.map((spec) => spec.port), ...current.map((service) => service.port)])
  let port = 8100
  while (used.has(port)) port++
  return port
}

const removeService = Effect.fnUntraced(function* (args: ReadonlyArray<string>) {
  const { values, positionals } = yield* Effect.try({
    try: () =>
      parseArgs({
        args: [...args],
        allowPositionals: true,
        options: { "dry-run": { type: "boolean", default: false } },
      }),
    catch: (error) => new ScaffoldError({ message: (error as Error).message }),
  })
  const [name] = positionals
  const current = yield* registry
  const service = current.find((entry) => entry.name === name)
  if (name === undefined || service === undefined) {
    return yield* new ScaffoldError({
      message:
        name === undefined
          ? "usage: ./platform remove-service <name> [--dry-run]"
          : `${name} is not a service new-service made (${current.length === 0 ? "there are none" : current.map((entry) => entry.name).join(", ")})`,
    })
  }
  const changes = yield* planRemove(files, service, current)
  if (values["dry-run"]) {
    yield* say(`./platform remove-service ${name} would (nothing written):`)
    return yield* show(changes)
  }
  yield* apply(changes)
  yield* Effect.sync(() => fs.rmSync(path.join(root, "packages", service.name), { recursive: true, force: true }))
  if (service.kind === "connect") {
    yield* Effect.sync(() => {
      for (const dir of ["proto", "gen"])
        fs.rmSync(path.join(root, "proto-compat", dir, service.name), { recursive: true, force: true })
    })
  }
  yield* say(`${name} removed:`)
  yield* show(changes)
  yield* install
})

const [command, ...rest] = process.argv.slice(2)
const program = command === "remove" ? removeService(rest) : newService(rest)

// The CLI's edge: a mistake is one line and exit code 1, never a stack trace.
Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Success") return
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  const message =
    failure?._tag === "Fail" && failure.error instanceof ScaffoldError ? failure.error.message : String(exit.cause)
  process.stderr.write(`${message}\n`)
  process.exitCode = 1
})
