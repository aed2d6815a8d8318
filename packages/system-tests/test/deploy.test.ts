import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Console from "@platform/contracts/Console"
import { routes, settings } from "@platform/edge/Routes"
import { services, WEB_PORT } from "@platform/platform/Services"
import { parse, parseAllDocuments } from "yaml"

/**
 * No Docker engine or cluster runs here, so Compose and Kubernetes are checked statically:
 * they parse, they describe the contract's services, ports, variables and databases, the
 * Kubernetes overlays render and every object validates against the Kubernetes schemas, and
 * the three edges (the dev edge, Traefik in Compose, Traefik in Kubernetes) route the same
 * paths through the same middlewares.
 */
const root = fileURLToPath(new URL("../../..", import.meta.url))
const read = (path: string) => readFileSync(join(root, path), "utf8")

type Env = Record<string, string>
interface ComposeService {
  build?: { context: string; dockerfile: string; args?: { SERVICE: string } }
  image?: string
  environment?: Env
  labels?: Env
  depends_on?: Record<string, { condition: string }>
  ports?: Array<string>
  volumes?: Array<string>
  healthcheck?: unknown
}
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, ComposeService> }
const apps = services.filter((spec) => spec.name !== "edge")
const contractDatabases = apps.map((spec) => spec.database).sort()

/** The databases `init-db.sh` creates: one `<service>_db` per service its loop names. */
const initDbDatabases = (script: string) =>
  script
    .match(/for service in ([^;]+);/)?.[1]
    ?.trim()
    .split(/\s+/)
    .map((service) => `${service}_db`)
    .sort()

/** A route as all three edges can state it. */
interface EdgeRoute {
  readonly prefix: string
  readonly upstream: string
  readonly port: number
  readonly h2c: boolean
  readonly middlewares: ReadonlyArray<string>
}

const portOf = (name: string) => (name === "web" ? WEB_PORT : (services.find((spec) => spec.name === name)?.port ?? -1))
const prefixOf = (rule: string) => rule.match(/^PathPrefix\(`([^`]+)`\)$/)?.[1] ?? `unparsed: ${rule}`

const devRoutes: ReadonlyArray<EdgeRoute> = routes.map((route) => ({
  prefix: route.prefix,
  upstream: route.upstream,
  port: portOf(route.upstream),
  h2c: route.h2c,
  middlewares: route.middlewares,
}))

/** Every Traefik router declared in a Compose service's labels (a service may have several). */
const composeRoutes: ReadonlyArray<EdgeRoute> = Object.entries(compose.services).flatMap(([name, service]) => {
  const labels = service.labels ?? {}
  if (labels["traefik.enable"] !== "true") return []
  const routers = Object.keys(labels).flatMap((key) => key.match(/^traefik\.http\.routers\.([^.]+)\.rule$/)?.[1] ?? [])
  return routers.map((router) => ({
    prefix: prefixOf(labels[`traefik.http.routers.${router}.rule`] ?? ""),
    upstream: name,
    port: Number(labels[`traefik.http.services.${name}.loadbalancer.server.port`]),
    h2c: labels[`traefik.http.services.${name}.loadbalancer.server.scheme`] === "h2c",
    middlewares: (labels[`traefik.http.routers.${router}.middlewares`] ?? "")
      .split(",")
      .filter((m) => m !== "")
      .map((m) => m.replace(/@file$/, "")),
  }))
})

const kustomize = (overlay: string) =>
  parseAllDocuments(execFileSync("kubectl", ["kustomize", join(root, "deploy/k8s/overlays", overlay)]).toString()).map(
    (document) => document.toJSON() as { apiVersion: string; kind: string; metadata: { name: string }; spec?: any },
  )

const byName = (values: ReadonlyArray<EdgeRoute>) => [...values].sort((a, b) => a.prefix.localeCompare(b.prefix))

describe("forwarding headers", () => {
  it("Traefik in Compose and Kubernetes believes no client's X-Forwarded-*, as the dev edge does by default", () => {
    const composeTraefik = (compose.services.traefik as unknown as { command: Array<string> }).command
    assert.include(composeTraefik, "--entrypoints.web.forwardedheaders.insecure=false")
    assert.include(
      read("deploy/k8s/overlays/local/traefik.yaml"),
      "- --entrypoints.web.forwardedheaders.insecure=false",
    )
    assert.notInclude(read("docker-compose.yml"), "trustedips")
  })
})

describe("Docker Compose", () => {
  it("has PostgreSQL 17, Traefik v3, the five services built from the Dockerfile, the console, and their watchers", () => {
    assert.sameMembers(Object.keys(compose.services), [
      "postgres",
      "traefik",
      "web",
      "prometheus",
      "tempo",
      "grafana",
      ...apps.map((spec) => spec.name),
    ])
    assert.match(compose.services.postgres?.image ?? "", /^postgres:17/)
    assert.match(compose.services.traefik?.image ?? "", /^traefik:v3/)
    assert.deepStrictEqual(compose.services.traefik?.ports, ["30081:80"])
    for (const spec of apps) {
      const service = compose.services[spec.name]
      assert.deepStrictEqual(service?.build, { context: ".", dockerfile: "Dockerfile", args: { SERVICE: spec.name } })
      assert.isTrue(existsSync(join(root, spec.dir, "src/main.ts")), `${spec.dir} exists`)
      assert.deepStrictEqual(service?.depends_on?.postgres, { condition: "service_healthy" }, spec.name)
    }
  })

  it("gives every service the contract's port, database and variables", () => {
    for (const spec of apps) {
      const env = compose.services[spec.name]?.environment ?? {}
      assert.strictEqual(env.PORT, String(spec.port), `${spec.name} PORT`)
      assert.match(env.DATABASE_URL ?? "", new RegExp(`@postgres:5432/${spec.database}$`), `${spec.name} DATABASE_URL`)
      assert.property(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
      assert.strictEqual(env.OTEL_SERVICE_NAME, spec.telemetryName, `${spec.name}: named as pnpm start names it`)
    }
    assert.strictEqual(compose.services.greeter?.environment?.CALLER_BASE_URL, "http://caller:8081")
    assert.property(compose.services.greeter?.environment ?? {}, "EXTERNAL_API_URL")
    assert.strictEqual(compose.services.gateway?.environment?.CUSTOM_LANG_BASE_URL, "http://lang:3000")
  })

  it("creates the five databases on first start, each owned by its service's role, which its URL names", () => {
    assert.deepStrictEqual(initDbDatabases(read("deploy/compose/init-db.sh")), contractDatabases)
    const postgres = compose.services.postgres?.environment ?? {}
    for (const spec of apps) {
      const variable = `${spec.name.toUpperCase()}_DB_PASSWORD`
      assert.property(postgres, variable, `the postgres container creates ${spec.name}'s role`)
      assert.strictEqual(
        compose.services[spec.name]?.environment?.DATABASE_URL,
        `postgresql://${spec.name}:\${${variable}}@postgres:5432/${spec.database}`,
        `${spec.name} connects as its own role`,
      )
    }
  })

  it("every variable Compose reads is in .env.example", () => {
    const used = new Set([...read("docker-compose.yml").matchAll(/\$\{([A-Z_]+)/g)].map((match) => match[1]))
    const documented = new Set(
      read(".env.example")
        .split("\n")
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => line.split("=")[0]),
    )
    for (const name of used) assert.isTrue(documented.has(name), `${name} is in .env.example`)
  })

  it("Prometheus scrapes every service on its port and loads the alert rules; traces go to Tempo", () => {
    const prometheus = parse(read("deploy/observability/prometheus/prometheus.yml")) as {
      rule_files: Array<string>
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: Array<string> }> }>
    }
    assert.sameDeepMembers(
      prometheus.scrape_configs.map((job) => [job.job_name, job.static_configs.flatMap((c) => c.targets)]),
      apps.map((spec) => [spec.name, [`${spec.name}:${spec.port}`]]),
    )
    const mounts = compose.services.prometheus?.volumes ?? []
    for (const file of prometheus.rule_files) {
      assert.isTrue(
        mounts.some((mount) => mount.endsWith(`:${file}:ro`) && existsSync(join(root, mount.split(":")[0] as string))),
        `${file} is mounted from the repository`,
      )
    }
    // Monitoring (Grafana's default login is admin/admin) on the host's loopback only.
    assert.deepStrictEqual(compose.services.prometheus?.ports, ["127.0.0.1:30090:9090"])
    assert.deepStrictEqual(compose.services.grafana?.ports, ["127.0.0.1:30300:3000"])
    for (const mount of compose.services.grafana?.volumes ?? []) {
      assert.isTrue(existsSync(join(root, mount.split(":")[0] as string)), mount)
    }
    for (const spec of apps) {
      assert.strictEqual(
        compose.services[spec.name]?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's interpolation, read as text
        "${OTEL_EXPORTER_OTLP_ENDPOINT-http://tempo:4318}",
      )
    }
  })

  it("the Dockerfile is multi-stage, runs as a non-root user and checks /healthz", () => {
    const dockerfile = read("Dockerfile")
    assert.isAtLeast([...dockerfile.matchAll(/^FROM /gm)].length, 2)
    assert.match(dockerfile, /^USER node$/m)
    assert.match(dockerfile, /^HEALTHCHECK .*\n?.*HEALTH_PATH/m)
    assert.match(dockerfile, /HEALTH_PATH=\/healthz/)
  })

  it("the console has its own image: built by Vite, served by unprivileged nginx on its port", () => {
    const dockerfile = read("packages/web/Dockerfile")
    assert.match(dockerfile, /pnpm --dir packages\/web build/)
    assert.match(dockerfile, /^FROM nginxinc\/nginx-unprivileged:/m)
    assert.match(dockerfile, /COPY packages\/web\/nginx.conf/)
    assert.match(read("packages/web/nginx.conf"), new RegExp(`listen ${WEB_PORT};`))
    assert.match(read("packages/web/nginx.conf"), /try_files \$uri \/index.html;/)
    // Served with the same headers as the dev edge serves it, in every location.
    const nginx = read("packages/web/nginx.conf")
    const locations = nginx.split(/\n\s*location /).slice(1)
    assert.lengthOf(locations, 2)
    for (const location of locations) {
      for (const [name, value] of Object.entries(Console.headers)) {
        const line = location
          .split("\n")
          .map((text) => text.trim())
          .find((text) => text.toLowerCase().startsWith(`add_header ${name} `))
        assert.isTrue(line?.endsWith(` "${value}" always;`), `${name} in location ${location.split("\n")[0]}`)
      }
    }
    assert.deepStrictEqual(compose.services.web?.build, { context: ".", dockerfile: "packages/web/Dockerfile" })
  })
})

describe("Kubernetes", () => {
  const overlays = { local: kustomize("local"), prod: kustomize("prod") }

  it("both overlays render, and every object validates against its schema", async () => {
    for (const [overlay, objects] of Object.entries(overlays)) {
      assert.isAbove(objects.length, 20, overlay)
      for (const object of objects) {
        const [group, version] = object.apiVersion.includes("/")
          ? object.apiVersion.split("/")
          : ["", object.apiVersion]
        const module = object.apiVersion.startsWith("traefik.io/")
          ? await import(`@kubernetes-models/traefik/${object.apiVersion}`)
          : await import(group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`)
        const Model = module[object.kind]
        assert.isDefined(Model, `${object.apiVersion} ${object.kind} has a schema`)
        // kustomize folds long base64 values over lines; the API server's decoder skips the newlines.
        if (object.kind === "Secret" && "data" in object) {
          const data = (object as unknown as { data: Record<string, string> }).data
          for (const key of Object.keys(data)) data[key] = (data[key] ?? "").replace(/\s+/g, "")
        }
        try {
          new Model(object).validate()
        } catch (error) {
          assert.fail(`${overlay}: ${object.kind}/${object.metadata.name}: ${(error as Error).message}`)
        }
      }
    }
  })

  it("default-deny NetworkPolicy; every pod Traefik routes to and every pod with a database carries the label that lets it", () => {
    for (const [overlay, objects] of Object.entries(overlays)) {
      const policies = objects.filter((object) => object.kind === "NetworkPolicy")
      const deny = policies.find((policy) => policy.metadata.name === "default-deny")
      assert.deepStrictEqual(deny?.spec.policyTypes, ["Ingress", "Egress"], overlay)
      const routedTo = new Set(
        objects
          .filter((object) => object.kind === "IngressRoute")
          .flatMap((route) =>
            route.spec.routes.flatMap((entry: { services: Array<{ name: string }> }) => entry.services),
          )
          .map((service: { name: string }) => service.name),
      )
      for (const deployment of objects.filter((object) => object.kind === "Deployment")) {
        const labels = deployment.spec.template.metadata.labels as Record<string, string>
        if (labels["app.kubernetes.io/part-of"] !== "effect-platform") continue
        const env = (deployment.spec.template.spec.containers[0].env ?? []) as Array<{ name: string }>
        if (routedTo.has(deployment.metadata.name)) {
          assert.strictEqual(labels["effect-platform/routed"], "true", `${overlay} ${deployment.metadata.name} routed`)
        }
        if (env.some((variable) => variable.name === "DATABASE_URL")) {
          assert.strictEqual(
            labels["effect-platform/database"],
            "true",
            `${overlay} ${deployment.metadata.name} database`,
          )
        }
      }
    }
  })

  it("each service: readiness on /readyz, liveness on /healthz, requests and limits, non-root, a Service on its port, a PDB and an HPA", () => {
    for (const [overlay, objects] of Object.entries(overlays)) {
      for (const spec of apps) {
        const find = (kind: string) =>
          objects.find((object) => object.kind === kind && object.metadata.name === spec.name)
        const deployment = find("Deployment")
        const container = deployment?.spec.template.spec.containers[0]
        assert.strictEqual(container.readinessProbe.httpGet.path, "/readyz", `${overlay} ${spec.name}`)
        assert.strictEqual(container.livenessProbe.httpGet.path, "/healthz")
        // Kubernetes' default of 1 s would fail a probe whose database check may take its 2 s.
        for (const probe of [container.readinessProbe, container.livenessProbe]) {
          assert.isAtLeast(probe.timeoutSeconds ?? 1, 3, `${overlay} ${spec.name}`)
        }
        assert.isDefined(container.resources.requests.cpu)
        assert.isDefined(container.resources.limits.memory)
        assert.isTrue(deployment?.spec.template.spec.securityContext.runAsNonRoot)
        assert.strictEqual(container.ports[0].containerPort, spec.port)
        assert.deepStrictEqual(
          container.env.find((env: { name: string }) => env.name === "DATABASE_URL").valueFrom.secretKeyRef,
          {
            name:
              objects.find((o) => o.kind === "Secret" && o.metadata.name.startsWith("database-urls"))?.metadata.name ??
              "database-urls",
            key: spec.name,
          },
        )
        assert.strictEqual(find("Service")?.spec.ports[0].port, spec.port)
        assert.strictEqual(
          container.env.find((env: { name: string }) => env.name === "OTEL_SERVICE_NAME").value,
          spec.telemetryName,
        )
        assert.isDefined(find("PodDisruptionBudget"))
        assert.isDefined(find("HorizontalPodAutoscaler"))
      }
    }
  })

  it("the local overlay brings PostgreSQL with the five databases and Traefik on NodePort 30081", () => {
    const objects = overlays.local
    const init = objects.find(
      (object) => object.kind === "ConfigMap" && object.metadata.name.startsWith("postgres-init"),
    )
    const script = (init as unknown as { data: Record<string, string> }).data["init-db.sh"] ?? ""
    assert.strictEqual(script, read("deploy/compose/init-db.sh"), "the same script as Compose's")
    const secret = (name: string) =>
      objects.find((object) => object.kind === "Secret" && object.metadata.name.startsWith(name)) as unknown as
        | { data: Record<string, string> }
        | undefined
    const roles = secret("database-roles")?.data ?? {}
    const urls = secret("database-urls")?.data ?? {}
    for (const spec of apps) {
      const password = Buffer.from(roles[`${spec.name.toUpperCase()}_DB_PASSWORD`] ?? "", "base64").toString()
      assert.isNotEmpty(password, `${spec.name}'s role has a password`)
      assert.strictEqual(
        Buffer.from(urls[spec.name] ?? "", "base64").toString(),
        `postgresql://${spec.name}:${password}@postgres:5432/${spec.database}`,
      )
    }
    const traefik = objects.find((object) => object.kind === "Service" && object.metadata.name === "traefik")
    assert.strictEqual(traefik?.spec.ports[0].nodePort, 30081)
  })

  it("Traefik's permissions stop at the platform's namespace: no cluster-wide Secrets", () => {
    const objects = overlays.local
    const clusterWide = objects.filter((object) => object.kind === "ClusterRole") as unknown as Array<{
      rules: Array<{ resources: Array<string> }>
    }>
    // Prometheus's pod discovery is the one cluster-wide role: pods, read-only.
    assert.deepStrictEqual(
      clusterWide.flatMap((role) => role.rules.flatMap((rule) => rule.resources)),
      ["pods"],
    )
    const role = objects.find((object) => object.kind === "Role" && object.metadata.name === "traefik") as unknown as {
      metadata: { namespace?: string }
      rules: Array<{ resources: Array<string> }>
    }
    assert.strictEqual(role.metadata.namespace, "effect-platform")
    assert.notInclude(
      role.rules.flatMap((rule) => rule.resources),
      "nodes",
    )
  })

  it("every service's pods ask to be scraped on their port; the local overlay brings the watchers", () => {
    for (const [overlay, objects] of Object.entries(overlays)) {
      for (const spec of apps) {
        const deployment = objects.find((object) => object.kind === "Deployment" && object.metadata.name === spec.name)
        assert.deepStrictEqual(
          deployment?.spec.template.metadata.annotations,
          { "prometheus.io/scrape": "true", "prometheus.io/port": String(spec.port), "prometheus.io/path": "/metrics" },
          `${overlay} ${spec.name}`,
        )
      }
    }
    const objects = overlays.local
    const service = (name: string) =>
      objects.find((object) => object.kind === "Service" && object.metadata.name === name)
    assert.strictEqual(service("prometheus")?.spec.ports[0].nodePort, 30090)
    assert.strictEqual(service("grafana")?.spec.ports[0].nodePort, 30300)
    assert.isDefined(service("tempo"))
    const configMap = (prefix: string) =>
      objects.find((object) => object.kind === "ConfigMap" && object.metadata.name.startsWith(prefix)) as unknown as {
        data: Record<string, string>
      }
    assert.strictEqual(configMap("platform-config").data.OTEL_EXPORTER_OTLP_ENDPOINT, "http://tempo:4318")
    assert.strictEqual(
      configMap("prometheus-config").data["alerts.yml"],
      read("deploy/observability/prometheus/alerts.yml"),
      "the same rules as Compose's",
    )
    assert.strictEqual(
      configMap("grafana-dashboards").data["platform.json"],
      read("deploy/observability/grafana/dashboards/platform.json"),
    )
    // Production brings its own Prometheus: nothing of the local stack leaks into it.
    assert.isUndefined(overlays.prod.find((object) => object.metadata.name === "prometheus"))
  })
})

describe("one edge, three places", () => {
  const k8s = kustomize("local")
  const k8sRoutes: ReadonlyArray<EdgeRoute> = k8s
    .filter((object) => object.kind === "IngressRoute")
    .flatMap((object) =>
      object.spec.routes.map((route: any) => ({
        prefix: prefixOf(route.match),
        upstream: route.services[0].name,
        port: route.services[0].port,
        h2c: route.services[0].scheme === "h2c",
        middlewares: (route.middlewares ?? []).map((middleware: { name: string }) => middleware.name),
      })),
    )

  it("the dev edge, Traefik in Compose and Traefik in Kubernetes route the same paths the same way", () => {
    assert.deepStrictEqual(byName(composeRoutes), byName(devRoutes))
    assert.deepStrictEqual(byName(k8sRoutes), byName(devRoutes))
  })

  it("their middlewares have the contract's settings", () => {
    const file = (parse(read("deploy/traefik/dynamic.yml")) as { http: { middlewares: Record<string, any> } }).http
      .middlewares
    const crds = Object.fromEntries(
      k8s.filter((object) => object.kind === "Middleware").map((object) => [object.metadata.name, object.spec]),
    )
    for (const middlewares of [file, crds]) {
      assert.deepStrictEqual(middlewares.cors.headers.accessControlAllowMethods, settings.cors.methods)
      assert.deepStrictEqual(middlewares.cors.headers.accessControlAllowHeaders, settings.cors.headers)
      assert.deepStrictEqual(middlewares.cors.headers.accessControlExposeHeaders, settings.cors.exposedHeaders)
      assert.deepStrictEqual(middlewares.cors.headers.accessControlAllowOriginList, settings.cors.defaultOrigins)
      assert.strictEqual(middlewares.cors.headers.accessControlMaxAge, settings.cors.maxAgeSeconds)
      assert.isTrue(middlewares.cors.headers.addVaryHeader)
      assert.match(
        middlewares.auth.forwardAuth.address,
        new RegExp(`auth.*:${portOf("auth")}${settings.auth.verifyPath}$`),
      )
      assert.deepStrictEqual(middlewares.auth.forwardAuth.authResponseHeaders, settings.auth.copiedHeaders)
      assert.strictEqual(middlewares["rate-limit"].rateLimit.average, settings.rateLimit.average)
      assert.strictEqual(middlewares["rate-limit"].rateLimit.burst, settings.rateLimit.burst)
      assert.strictEqual(middlewares["rate-limit"].rateLimit.period, `${settings.rateLimit.periodSeconds}s`)
      assert.strictEqual(middlewares.retry.retry.attempts, settings.retry.attempts)
      assert.strictEqual(middlewares.retry.retry.initialInterval, `${settings.retry.initialIntervalMs}ms`)
    }
  })
})
