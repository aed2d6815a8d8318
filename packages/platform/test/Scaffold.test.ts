import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import type { TeamService } from "@platform/contracts/TeamServices"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import { parse, parseAllDocuments } from "yaml"
import { connectRoute, problem, type Request, type Taken } from "../src/scaffold/Names.ts"
import { type Change, type Files, planNew, planRemove } from "../src/scaffold/Plan.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))

const listed = new Map<string, ReadonlyArray<string>>()

/** The files under `dir` on disk (the templates), listed once per run. */
const onDisk = (dir: string) => {
  const known = listed.get(dir)
  if (known !== undefined) return known
  const full = path.join(root, dir)
  const files = !fs.existsSync(full)
    ? []
    : (fs.readdirSync(full, { recursive: true, withFileTypes: true }) as Array<fs.Dirent>)
        .filter((entry) => entry.isFile() && !entry.parentPath.includes("node_modules"))
        .map((entry) => path.relative(full, path.join(entry.parentPath, entry.name)))
        .sort()
  listed.set(dir, files)
  return files
}

const texts = new Map<string, string | undefined>()

/** The repository's own files, read once, edited in memory as the generator would write them. */
class MemoryRepo implements Files {
  readonly files = new Map<string, string>()
  read = (file: string) => {
    if (this.files.has(file)) return this.files.get(file)
    if (!texts.has(file)) {
      const full = path.join(root, file)
      texts.set(file, fs.existsSync(full) && fs.statSync(full).isFile() ? fs.readFileSync(full, "utf8") : undefined)
    }
    const text = texts.get(file)
    if (text !== undefined) this.files.set(file, text)
    return text
  }
  list = (dir: string) => {
    const inMemory = [...this.files.keys()].filter((file) => file.startsWith(`${dir}/`))
    if (inMemory.length > 0) return inMemory.map((file) => file.slice(dir.length + 1)).sort()
    return onDisk(dir)
  }
  apply = (changes: ReadonlyArray<Change>) => {
    for (const change of changes) {
      if (change.action === "delete") this.files.delete(change.path)
      else this.files.set(change.path, change.text ?? "")
    }
  }
}

const taken: Taken = {
  services: [
    { name: "lang", port: 3000 },
    { name: "greeter", port: 8080 },
  ],
  ports: [{ port: 5433, by: "the embedded PostgreSQL" }],
  routes: [
    { prefix: "/auth", name: "auth" },
    { prefix: "/greeter.v1.GreeterService", name: "greeter" },
    { prefix: "/", name: "web" },
  ],
  packages: ["shared", "billing"],
}

const rest = (overrides: Partial<Request> = {}): Request => ({
  name: "orders",
  kind: "rest",
  port: 8095,
  route: "/orders",
  public: false,
  ...overrides,
})

describe("new-service: what it accepts", () => {
  it("a good request passes; each mistake is one line naming it", () => {
    assert.isUndefined(problem(rest(), taken))
    const cases: Array<[Partial<Request>, RegExp]> = [
      [{ name: "Orders" }, /lower-case letters and digits/],
      [{ name: "order-history" }, /lower-case letters and digits/],
      [{ name: "9lives" }, /starting with a letter/],
      [{ name: "x" }, /2 to 30/],
      [{ name: "lang" }, /reserved/],
      [{ name: "specimen" }, /reserved/],
      [{ name: "billing" }, /packages\/billing exists/],
      [{ port: 80 }, /1024 to 65535/],
      [{ port: 8080 }, /port 8080 is greeter's/],
      [{ port: 5433 }, /embedded PostgreSQL/],
      [{ route: "orders" }, /--route must be a path/],
      [{ route: "/Orders" }, /--route must be a path/],
      [{ route: "/auth/orders" }, /overlaps auth's \/auth/],
      [{ route: "/greeter.v1" }, /overlaps greeter's/],
    ]
    for (const [change, expected] of cases)
      assert.match(problem(rest(change), taken) ?? "", expected, JSON.stringify(change))
  })

  it("a Connect service is routed at its own path", () => {
    assert.strictEqual(connectRoute("billing"), "/billing.v1.BillingService")
    assert.isUndefined(problem(rest({ kind: "connect", route: connectRoute("orders") }), taken))
  })
})

describe("new-service and remove-service: the plan", () => {
  it.effect("rest: the package from the template, its deploy entries everywhere, all of which still parse", () =>
    Effect.gen(function* () {
      const repo = new MemoryRepo()
      const changes = yield* planNew(repo, rest(), [])
      const created = changes.filter((change) => change.action === "create").map((change) => change.path)
      for (const file of [
        "src/App.ts",
        "src/Api.ts",
        "src/main.ts",
        "test/orders.int.test.ts",
        "test/Entries.test.ts",
      ]) {
        assert.include(created, `packages/orders/${file}`)
      }
      assert.include(created, "deploy/k8s/base/orders.yaml")
      repo.apply(changes)
      const app = repo.read("packages/orders/src/App.ts") ?? ""
      assert.include(app, 'export const defaults = { name: "orders", port: 8095 }')
      assert.notInclude(
        JSON.stringify([...repo.files.entries()].filter(([file]) => file.startsWith("packages/orders"))),
        "specimen",
      )
      assert.include(repo.read("packages/orders/src/Api.ts"), '"/orders/entries"')
      const compose = parse(repo.read("docker-compose.yml") ?? "", { merge: true }) as {
        services: Record<string, { environment: Record<string, string>; labels: Record<string, string> }>
      }
      assert.strictEqual(compose.services.orders?.environment.PORT, "8095")
      assert.strictEqual(
        compose.services.orders?.labels["traefik.http.routers.orders.middlewares"],
        "cors@file,auth@file,rate-limit@file",
      )
      for (const file of [
        "deploy/k8s/base/edge.yaml",
        "deploy/k8s/base/orders.yaml",
        "deploy/k8s/overlays/local/kustomization.yaml",
      ]) {
        for (const document of parseAllDocuments(repo.read(file) ?? ""))
          assert.deepStrictEqual(document.errors, [], file)
      }
      assert.match(repo.read("deploy/compose/init-db.sh") ?? "", /for service in [^;]* orders; do/)
      // Its own database role: the password in .env, the postgres container, and its URL.
      assert.include(repo.read(".env.example"), "\nORDERS_DB_PASSWORD=")
      assert.property(compose.services.postgres?.environment ?? {}, "ORDERS_DB_PASSWORD")
      assert.strictEqual(
        compose.services.orders?.environment.DATABASE_URL,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's interpolation, as written in the file
        "postgresql://orders:${ORDERS_DB_PASSWORD}@postgres:5432/orders_db",
      )
      const registry = JSON.parse(repo.read("packages/contracts/src/team-services.json") ?? "") as Array<TeamService>
      assert.deepStrictEqual(registry, [
        { name: "orders", kind: "rest", port: 8095, route: "/orders", public: false, database: "orders_db" },
      ])
    }),
  )

  it.effect("connect: the .proto in proto-compat and its export; no REST route substitution", () =>
    Effect.gen(function* () {
      const repo = new MemoryRepo()
      const request = rest({ name: "billing", kind: "connect", route: connectRoute("billing") })
      repo.apply(yield* planNew(repo, request, []))
      assert.include(repo.read("proto-compat/proto/billing/v1/billing.proto"), "package billing.v1;")
      assert.include(repo.read("proto-compat/proto/billing/v1/billing.proto"), "service BillingService")
      assert.include(repo.read("packages/billing/src/inbound/Connect.ts"), '"@platform/proto-compat/billing/v1"')
      const manifest = JSON.parse(repo.read("proto-compat/package.json") ?? "") as { exports: Record<string, string> }
      assert.strictEqual(manifest.exports["./billing/v1"], "./gen/billing/v1/billing_pb.ts")
      assert.include(repo.read("deploy/k8s/base/edge.yaml"), "services: [{ name: billing, port: 8095, scheme: h2c }]")
    }),
  )

  it.effect("adding a service twice fails the plan and says where", () =>
    Effect.gen(function* () {
      const repo = new MemoryRepo()
      repo.apply(yield* planNew(repo, rest(), []))
      const again = yield* Effect.exit(planNew(repo, rest(), []))
      assert.isTrue(Exit.isFailure(again))
    }),
  )

  it.effect("property: any services added, then removed in any order, leave every file as it was", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(
            fc.record({
              name: fc
                .stringMatching(/^[a-z][a-z0-9]{2,8}$/)
                .filter((name) => !["lang", "auth", "edge", "web"].includes(name)),
              kind: fc.constantFrom("rest" as const, "connect" as const),
              public: fc.boolean(),
            }),
            { minLength: 1, maxLength: 4, selector: (service) => service.name },
          ),
          fc.func(fc.integer()),
          async (wanted, order) => {
            const repo = new MemoryRepo()
            const watched = [
              "docker-compose.yml",
              "README.md",
              "deploy/k8s/base/edge.yaml",
              "deploy/k8s/base/kustomization.yaml",
              "deploy/k8s/overlays/local/kustomization.yaml",
              "deploy/k8s/overlays/local/postgres.yaml",
              "deploy/k8s/overlays/prod/kustomization.yaml",
              "deploy/observability/prometheus/prometheus.yml",
              "deploy/compose/init-db.sh",
              ".env.example",
              "packages/contracts/src/team-services.json",
              "proto-compat/package.json",
            ]
            const before = watched.map((file) => repo.read(file))
            const registry: Array<TeamService> = []
            for (const [index, service] of wanted.entries()) {
              const request: Request = {
                ...service,
                port: 9000 + index,
                route: service.kind === "connect" ? connectRoute(service.name) : `/${service.name}`,
              }
              repo.apply(await Effect.runPromise(planNew(repo, request, registry)))
              registry.push({ ...request, database: `${service.name}_db` })
            }
            const removal = [...registry].sort((a, b) => order(a.name) - order(b.name))
            for (const service of removal) {
              const current = JSON.parse(
                repo.read("packages/contracts/src/team-services.json") ?? "",
              ) as Array<TeamService>
              repo.apply(await Effect.runPromise(planRemove(repo, service, current)))
            }
            assert.deepStrictEqual(
              watched.map((file) => repo.read(file)),
              before,
            )
            assert.deepStrictEqual(
              [...repo.files.keys()].filter(
                (file) => file.startsWith("packages/") && !file.startsWith("packages/contracts"),
              ),
              [],
            )
          },
        ),
        { numRuns: 20 },
      ),
    ),
  )
})
