import { execFile, execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { promisify } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { Readiness } from "@platform/shared/Health"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import { Effect, Schema } from "effect"
import * as InProcess from "./InProcess.ts"

/**
 * Compose's and the local overlay's `init-db.sh`, run against a real server: each service gets a
 * role that owns its database, migrates it, serves with it, and cannot reach another service's
 * database. The script's service names are prefixed so the run cannot touch a server's real
 * `auth_db`; everything it creates is dropped afterwards.
 */
const script = readFileSync(new URL("../../../deploy/compose/init-db.sh", import.meta.url), "utf8")
const services = ["lang", "auth", "caller", "greeter", "gateway"] as const

const hasPsql = (() => {
  try {
    execFileSync("psql", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

const readiness = (base: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}/readyz`)
    return Schema.decodeUnknownSync(Readiness)(await response.json())
  })

describe("one database role per service (deploy/compose/init-db.sh)", () => {
  it.live.skipIf(!hasPsql)(
    "each service migrates and serves as its own role, which cannot connect to another's database",
    () =>
      Effect.gen(function* () {
        const server = TestDatabase.serverUrl()
        const prefix = `t${randomBytes(4).toString("hex")}_`
        const role = (service: string) => `${prefix}${service}`
        const password = (service: string) => `pw-${service}-${randomBytes(6).toString("hex")}`
        const passwords = Object.fromEntries(services.map((service) => [service, password(service)]))
        const renamed = script.replace(
          /for service in ([^;]+);/,
          (_, list: string) => `for service in ${list.trim().split(/\s+/).map(role).join(" ")};`,
        )
        assert.notStrictEqual(renamed, script, "the script's loop was found")
        const env = {
          PATH: process.env.PATH ?? "",
          PGHOST: server.hostname,
          PGPORT: server.port || "5432",
          PGPASSWORD: decodeURIComponent(server.password),
          POSTGRES_USER: decodeURIComponent(server.username),
          ...Object.fromEntries(services.map((s) => [`${role(s).toUpperCase()}_DB_PASSWORD`, passwords[s] ?? ""])),
        }
        yield* Effect.acquireRelease(
          Effect.promise(() => promisify(execFile)("sh", ["-c", renamed], { env })),
          () =>
            TestDatabase.onServer((sql) =>
              Effect.forEach(services, (service) =>
                Effect.andThen(
                  sql.unsafe(`DROP DATABASE IF EXISTS "${role(service)}_db" WITH (FORCE)`),
                  sql.unsafe(`DROP ROLE IF EXISTS "${role(service)}"`),
                ),
              ),
            ).pipe(Effect.orDie),
        )
        // Run twice, as an entrypoint rerun would: nothing fails, nothing is duplicated.
        yield* Effect.promise(() => promisify(execFile)("sh", ["-c", renamed], { env }))

        const urlOf = (service: string, database = service) => {
          const url = new URL(server)
          url.username = role(service)
          url.password = passwords[service] ?? ""
          url.pathname = `/${role(database)}_db`
          return url.href
        }
        const platform = yield* InProcess.start({
          env: Object.fromEntries(services.map((service) => [service, { DATABASE_URL: urlOf(service) }])),
        })
        for (const service of services) {
          const ready = yield* readiness(platform.url[service])
          assert.strictEqual(ready.database, "up", `${service} reached its database as its role`)
          assert.isTrue(ready.ready, service)
        }
        // The roles did the work: auth's tables are the auth role's, and a sign-up writes to them.
        yield* InProcess.signIn(platform.url.edge, `roles-${prefix}@example.com`)

        // Another service's database is closed to a role, whatever it knows of its name.
        const refused = yield* Effect.promise(() =>
          promisify(execFile)("psql", [urlOf("auth", "lang"), "-c", "SELECT 1"], { env: { PATH: env.PATH } }).then(
            () => "connected",
            (error: { stderr?: string }) => error.stderr ?? "",
          ),
        )
        assert.match(refused, /permission denied for database/)
        const asAuth = (query: string) =>
          Effect.promise(() =>
            promisify(execFile)("psql", [urlOf("auth"), "-At", "-c", query], { env: { PATH: env.PATH } }),
          ).pipe(Effect.map(({ stdout }) => Number(stdout.trim())))
        assert.isAbove(
          yield* asAuth("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"),
          2,
          "auth's migrations ran as the auth role",
        )
        assert.strictEqual(yield* asAuth("SELECT count(*) FROM users"), 1, "the sign-up was written as that role")
      }),
    { timeout: 60_000 },
  )
})
