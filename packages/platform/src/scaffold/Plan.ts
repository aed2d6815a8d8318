import type { TeamService } from "@platform/contracts/TeamServices"
import { Effect, Schema } from "effect"
import { connectRoute, forms, type Request } from "./Names.ts"

/**
 * What `new-service` and `remove-service` do to the repository, computed in memory before
 * anything is written: files created, changed (whole new text) and deleted. A change that cannot
 * find where it goes fails the plan, so a half-registered service cannot happen.
 *
 * Every edit is an insertion of a block the generator alone writes, at an anchor line the
 * repository's files keep; removal deletes exactly that block, so a remove leaves `git status`
 * as it was before the add.
 */
export interface Change {
  readonly path: string
  readonly action: "create" | "change" | "delete"
  /** The file's whole text after the change (none for a deletion). */
  readonly text?: string
}

export class ScaffoldError extends Schema.TaggedError<ScaffoldError>()("ScaffoldError", {
  message: Schema.String,
}) {}

/** The repository as the plan reads it. */
export interface Files {
  readonly read: (path: string) => string | undefined
  /** Every file under `dir`, relative to it. */
  readonly list: (dir: string) => ReadonlyArray<string>
}

/** A block inserted before the (single) line that starts with `anchor`. */
interface Insertion {
  readonly path: string
  readonly anchor: string
  readonly block: string
}

/** A word added to the space-separated list on the line that starts with `line`, before `end`. */
interface ListWord {
  readonly path: string
  readonly line: string
  readonly end: string
  readonly word: string
}

const REGISTRY = "packages/contracts/src/team-services.json"
const PROTO_EXPORTS = "proto-compat/package.json"

/** The text of `request`'s deploy entries, and where each goes. */
const registrations = (request: Request) => {
  const { name, port, route } = request
  const h2c = request.kind === "connect"
  const middlewares = request.public ? ["cors", "rate-limit"] : ["cors", "auth", "rate-limit"]
  const database = `${name}_db`
  // The service's own database role (init-db.sh creates it): its password, in .env and the secrets.
  const password = `${name.toUpperCase().replaceAll("-", "_")}_DB_PASSWORD`
  const insertions: Array<Insertion> = [
    {
      path: "docker-compose.yml",
      anchor: "      POSTGRES_USER: ",
      block: `      ${password}: \${${password}:?set ${password} in .env}\n`,
    },
    {
      path: "docker-compose.yml",
      anchor: "  web:",
      block: [
        `  ${name}:`,
        "    <<: *service",
        `    build: { context: ., dockerfile: Dockerfile, args: { SERVICE: ${name} } }`,
        "    environment:",
        "      <<: *common",
        `      PORT: "${port}"`,
        `      OTEL_SERVICE_NAME: ${name}`,
        `      DATABASE_URL: postgresql://${name}:\${${password}}@postgres:5432/${database}`,
        "    labels:",
        `      traefik.enable: "true"`,
        `      traefik.http.routers.${name}.rule: PathPrefix(\`${route}\`)`,
        `      traefik.http.routers.${name}.entrypoints: web`,
        `      traefik.http.routers.${name}.middlewares: ${middlewares.map((m) => `${m}@file`).join(",")}`,
        `      traefik.http.services.${name}.loadbalancer.server.port: "${port}"`,
        ...(h2c ? [`      traefik.http.services.${name}.loadbalancer.server.scheme: h2c`] : []),
        "",
        "",
      ].join("\n"),
    },
    {
      path: "deploy/k8s/base/kustomization.yaml",
      anchor: "  - web.yaml",
      block: `  - ${name}.yaml\n`,
    },
    {
      path: "deploy/k8s/base/edge.yaml",
      anchor: "    # The web console: everything no other route takes",
      block: [
        `    - match: PathPrefix(\`${route}\`)`,
        "      kind: Rule",
        `      middlewares: [${middlewares.map((m) => `{ name: ${m} }`).join(", ")}]`,
        `      services: [{ name: ${name}, port: ${port}${h2c ? ", scheme: h2c" : ""} }]`,
        "",
      ].join("\n"),
    },
    {
      path: "deploy/k8s/overlays/local/kustomization.yaml",
      anchor: "  - { name: effect-platform/web, newTag: local }",
      block: `  - { name: effect-platform/${name}, newTag: local }\n`,
    },
    {
      path: "deploy/k8s/overlays/local/kustomization.yaml",
      anchor: "  - name: database-urls",
      block: `      - ${password}=${name}-local\n`,
    },
    {
      path: "deploy/k8s/overlays/local/kustomization.yaml",
      anchor: "  - name: auth-signing-keys",
      block: `      - ${name}=postgresql://${name}:${name}-local@postgres:5432/${database}\n`,
    },
    {
      path: "deploy/k8s/overlays/prod/kustomization.yaml",
      anchor: "  - { name: effect-platform/web,",
      block: `  - { name: effect-platform/${name}, newName: ghcr.io/effect-platform/${name}, newTag: "1.0.0" }\n`,
    },
    {
      path: "README.md",
      anchor: "| edge | `packages/edge` |",
      block: `| ${name} | \`packages/${name}\` | ${port} | ${h2c ? "Connect / gRPC / gRPC-Web" : "REST (JSON)"}, \`${route}\` at the edge${request.public ? " (public)" : ""} | \`${database}\` (\`entries\`) | generated |\n`,
    },
  ]
  const appended = [
    {
      path: "deploy/observability/prometheus/prometheus.yml",
      block: `  - job_name: ${name}\n    static_configs: [{ targets: ["${name}:${port}"] }]\n`,
    },
    { path: ".env.example", block: `${password}=change-me-${name}\n` },
  ]
  const words: Array<ListWord> = [
    { path: "deploy/compose/init-db.sh", line: "for service in", end: "; do", word: name },
    { path: "deploy/k8s/overlays/local/postgres.yaml", line: "    for service in", end: "; do", word: name },
  ]
  return { insertions, appended, words }
}

const fail = (message: string) => Effect.fail(new ScaffoldError({ message }))

const insert = (text: string, { path, anchor, block }: Insertion) => {
  if (text.includes(block)) return fail(`${path} already has this service's entry`)
  const lines = text.split("\n")
  const found = lines.flatMap((line, index) => (line.startsWith(anchor) ? [index] : []))
  const [index] = found
  if (found.length !== 1 || index === undefined) {
    return fail(
      `${path}: expected one line starting ${JSON.stringify(anchor)} to add the service before, found ${found.length}`,
    )
  }
  const at = index === 0 ? 0 : lines.slice(0, index).join("\n").length + 1
  return Effect.succeed(text.slice(0, at) + block + text.slice(at))
}

const removeBlock = (text: string, path: string, block: string) => {
  const at = text.indexOf(block)
  if (at < 0 || text.indexOf(block, at + 1) >= 0) {
    return fail(`${path}: the service's entry is not there as new-service wrote it; remove it by hand`)
  }
  return Effect.succeed(text.slice(0, at) + text.slice(at + block.length))
}

const addWord = (text: string, { path, line, end, word }: ListWord) => {
  const lines = text.split("\n")
  const index = lines.findIndex((candidate) => candidate.startsWith(line))
  const current = lines[index]
  if (current === undefined || !current.includes(end)) {
    return fail(`${path}: cannot find the line ${JSON.stringify(line)} to add ${word} to`)
  }
  if (current.split(/[\s;]+/).includes(word)) return fail(`${path} already lists ${word}`)
  lines[index] = current.replace(end, ` ${word}${end}`)
  return Effect.succeed(lines.join("\n"))
}

const removeWord = (text: string, { path, line, word }: ListWord) => {
  const lines = text.split("\n")
  const index = lines.findIndex((candidate) => candidate.startsWith(line))
  const current = lines[index]
  const listed = new RegExp(` ${word}(?=[ ;])`)
  if (current === undefined || !listed.test(current))
    return fail(`${path}: ${word} is not in the list; remove it by hand`)
  lines[index] = current.replace(listed, "")
  return Effect.succeed(lines.join("\n"))
}

/** Reads and edits files in memory: each path's latest text, created, changed or deleted. */
const workspace = (files: Files) => {
  const changed = new Map<string, string>()
  const read = (path: string) => {
    const text = changed.get(path) ?? files.read(path)
    return text === undefined ? fail(`${path} is missing; is this the platform's repository?`) : Effect.succeed(text)
  }
  const edit = (path: string, f: (text: string) => Effect.Effect<string, ScaffoldError>) =>
    Effect.flatMap(read(path), f).pipe(Effect.tap((text) => Effect.sync(() => changed.set(path, text))))
  const changes = () => [...changed].map(([path, text]) => ({ path, action: "change" as const, text }))
  return { read, edit, changes }
}

/** Team services as the registry file holds them: two-space JSON, one trailing newline. */
const writeRegistry = (services: ReadonlyArray<TeamService>) =>
  services.length === 0 ? "[]\n" : `${JSON.stringify(services, null, 2)}\n`

/** The template's text with the service's names, port and route in place of the template's own. */
export const substitute = (text: string, request: Request, templatePort: number) => {
  const { lower, pascal, upper } = forms(request.name)
  return (
    text
      .replaceAll("@platform/template-rest", `@platform/${lower}`)
      .replaceAll("@platform/template-connect", `@platform/${lower}`)
      // A REST template's paths are under its route; a Connect service's path is its package's.
      .replaceAll("/specimen/", request.kind === "rest" ? `${request.route}/` : "/specimen/")
      .replaceAll("specimen", lower)
      .replaceAll("Specimen", pascal)
      .replaceAll("SPECIMEN", upper)
      .replaceAll(String(templatePort), String(request.port))
  )
}

const TEMPLATE_PORT = { rest: 8097, connect: 8098 } as const
const DEPLOY_TEMPLATE_PORT = 8097

export const planNew = Effect.fnUntraced(function* (
  files: Files,
  request: Request,
  registry: ReadonlyArray<TeamService>,
) {
  const { name } = request
  const repo = workspace(files)
  const creates: Array<Change> = []
  const template = `templates/${request.kind}`
  for (const file of files.list(template)) {
    if (file.startsWith("node_modules/")) continue
    const text = yield* repo.read(`${template}/${file}`)
    creates.push({
      path: `packages/${name}/${file.replaceAll("specimen", name)}`,
      action: "create",
      text: substitute(text, request, TEMPLATE_PORT[request.kind]),
    })
  }
  creates.push({
    path: `deploy/k8s/base/${name}.yaml`,
    action: "create",
    text: substitute(yield* repo.read("templates/deploy/k8s.yaml"), request, DEPLOY_TEMPLATE_PORT),
  })
  if (request.kind === "connect") {
    creates.push({
      path: `proto-compat/proto/${name}/v1/${name}.proto`,
      action: "create",
      text: substitute(
        yield* repo.read("proto-compat/proto/specimen/v1/specimen.proto"),
        request,
        TEMPLATE_PORT.connect,
      ),
    })
    yield* repo.edit(PROTO_EXPORTS, (text) => Effect.succeed(withExport(text, name, true)))
  }
  const { insertions, appended, words } = registrations(request)
  for (const insertion of insertions) yield* repo.edit(insertion.path, (text) => insert(text, insertion))
  for (const { path, block } of appended) {
    yield* repo.edit(path, (text) =>
      text.includes(block)
        ? fail(`${path} already has ${name}'s entry`)
        : Effect.succeed(text.endsWith("\n") ? text + block : `${text}\n${block}`),
    )
  }
  for (const word of words) yield* repo.edit(word.path, (text) => addWord(text, word))
  yield* repo.edit(REGISTRY, () =>
    Effect.succeed(
      writeRegistry([
        ...registry,
        {
          name,
          kind: request.kind,
          port: request.port,
          route: request.kind === "connect" ? connectRoute(name) : request.route,
          public: request.public,
          database: `${name}_db`,
        },
      ]),
    ),
  )
  return [...creates, ...repo.changes()]
})

/** proto-compat's manifest with the service's generated code exported, or no longer. */
const withExport = (text: string, name: string, present: boolean) => {
  const manifest = JSON.parse(text) as { exports: Record<string, string> }
  if (present) manifest.exports[`./${name}/v1`] = `./gen/${name}/v1/${name}_pb.ts`
  else delete manifest.exports[`./${name}/v1`]
  return `${JSON.stringify(manifest, null, 2)}\n`
}

/** The plan that undoes `planNew` for the service the registry describes. */
export const planRemove = Effect.fnUntraced(function* (
  files: Files,
  service: TeamService,
  registry: ReadonlyArray<TeamService>,
) {
  const request: Request = {
    name: service.name,
    kind: service.kind,
    port: service.port,
    route: service.route,
    public: service.public,
  }
  const repo = workspace(files)
  const deleted = (dir: string) =>
    files.list(dir).map((file) => ({ path: `${dir}/${file}`, action: "delete" as const }))
  const deletes: Array<Change> = [
    ...deleted(`packages/${service.name}`).filter((change) => !change.path.includes("/node_modules/")),
    { path: `deploy/k8s/base/${service.name}.yaml`, action: "delete" },
  ]
  if (service.kind === "connect") {
    deletes.push(...deleted(`proto-compat/proto/${service.name}`), ...deleted(`proto-compat/gen/${service.name}`))
    yield* repo.edit(PROTO_EXPORTS, (text) => Effect.succeed(withExport(text, service.name, false)))
  }
  const { insertions, appended, words } = registrations(request)
  for (const insertion of insertions) {
    yield* repo.edit(insertion.path, (text) => removeBlock(text, insertion.path, insertion.block))
  }
  for (const { path, block } of appended) yield* repo.edit(path, (text) => removeBlock(text, path, block))
  for (const word of words) yield* repo.edit(word.path, (text) => removeWord(text, word))
  yield* repo.edit(REGISTRY, () =>
    Effect.succeed(writeRegistry(registry.filter((entry) => entry.name !== service.name))),
  )
  return [...deletes, ...repo.changes()]
})
