import { assert, describe, layer } from "@effect/vitest"
import { LangApi } from "@platform/contracts/LangApi"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { SqlClient } from "effect/sql"
import fc from "fast-check"
import * as App from "../src/App.ts"

/** lang over real HTTP on a loopback port, on a database of its own, as a client sees it. */
const LangUnderTest = Layer.unwrap(
  Effect.gen(function* () {
    const database = yield* TestDatabase.freshDatabase("lang_test")
    return Layer.merge(TestServer.layer(App, { DATABASE_URL: database.href }), TestDatabase.sqlClient(database))
  }),
)

const post = (body: string | undefined, headers: Record<string, string> = { "content-type": "application/json" }) =>
  Effect.gen(function* () {
    const base = yield* TestServer.baseUrl
    return yield* Effect.promise(async () => {
      const response = await fetch(`${base}/invoke`, {
        method: "POST",
        headers,
        ...(body === undefined ? {} : { body }),
      })
      return { status: response.status, body: await response.text(), type: response.headers.get("content-type") }
    })
  })

const invoke = (payload: unknown) => post(JSON.stringify(payload))

const rowsFor = (name: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ name: string; result_message: string | null; status_code: number }>`
        SELECT name, result_message, status_code FROM executions WHERE name = ${name}`,
  )

const countRows = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM executions`,
)

/** The contract's table, row by row. */
const contract = [
  { name: "unauthorized", status: 401, body: { error: "unauthorized" } },
  { name: "forbidden", status: 403, body: { error: "forbidden" } },
  { name: "notfound", status: 404, body: { error: "not found" } },
  { name: "conflict", status: 409, body: { error: "conflict" } },
  { name: "ratelimit", status: 429, body: { error: "rate limited" } },
  { name: "unavailable", status: 503, body: { error: "service unavailable" } },
  { name: "Ada", status: 200, body: { message: "Hello Ada from custom-lang-service!" } },
  { name: "Unauthorized", status: 200, body: { message: "Hello Unauthorized from custom-lang-service!" } },
] as const

layer(LangUnderTest, { excludeTestServices: true, timeout: "60 seconds" })("lang over HTTP and PostgreSQL", (it) => {
  describe("the contract table", () => {
    it.effect.each(contract)("$name answers $status and records it", ({ name, status, body }) =>
      Effect.gen(function* () {
        const response = yield* invoke({ name })
        assert.strictEqual(response.status, status)
        assert.deepStrictEqual(JSON.parse(response.body), body)
        assert.match(response.type ?? "", /^application\/json/)
        const rows = yield* rowsFor(name)
        assert.deepStrictEqual(rows, [
          { name, result_message: status === 200 ? (body as { message: string }).message : null, status_code: status },
        ])
      }),
    )
  })

  it.effect("a missing, null or empty name, or no body at all, greets World", () =>
    Effect.gen(function* () {
      const before = (yield* rowsFor("World")).length
      for (const response of [
        yield* invoke({}),
        yield* invoke({ name: "" }),
        yield* invoke({ name: null }),
        yield* post(undefined, {}),
        yield* invoke({ other: 1 }),
      ]) {
        assert.strictEqual(response.status, 200)
        assert.deepStrictEqual(JSON.parse(response.body), { message: "Hello World from custom-lang-service!" })
      }
      assert.strictEqual((yield* rowsFor("World")).length, before + 5)
    }),
  )

  describe("bad input is a 400 that says what is wrong, and records nothing", () => {
    const cases = [
      { what: "a body that is not JSON", body: "{nope", error: /not valid JSON/ },
      { what: "a name that is a number", body: JSON.stringify({ name: 12 }), error: /^name: must be a string$/ },
      { what: "a name that is an object", body: JSON.stringify({ name: { a: 1 } }), error: /^name: must be a string$/ },
      { what: "a body that is an array", body: "[]", error: /^request body must be a JSON object$/ },
      { what: "a body that is a string", body: '"Ada"', error: /^request body must be a JSON object$/ },
      { what: "a name of 256 characters", body: JSON.stringify({ name: "é".repeat(256) }), error: /at most 255/ },
      { what: "a name with NUL", body: JSON.stringify({ name: "a\u0000b" }), error: /NUL/ },
      { what: "a name with a lone surrogate", body: '{"name":"\\ud800"}', error: /valid Unicode/ },
      { what: "a body over 64 KiB", body: JSON.stringify({ name: "x".repeat(70_000) }), error: /larger than 65536/ },
    ] as const
    it.effect.each(cases)("$what", ({ body, error }) =>
      Effect.gen(function* () {
        const [before] = yield* countRows
        const response = yield* post(body)
        assert.strictEqual(response.status, 400)
        const parsed = JSON.parse(response.body) as { error: string }
        assert.deepStrictEqual(Object.keys(parsed), ["error"])
        assert.match(parsed.error, error)
        const [after] = yield* countRows
        assert.strictEqual(after?.n, before?.n)
      }),
    )

    it.effect("a body that is not JSON by content type is a 415 in the same shape", () =>
      Effect.gen(function* () {
        const response = yield* post("name=Ada", { "content-type": "application/x-www-form-urlencoded" })
        assert.strictEqual(response.status, 415)
        assert.match((JSON.parse(response.body) as { error: string }).error, /application\/json/)
      }),
    )
  })

  it.effect("property: any body gets a contract status or a 400, never a 5xx, and every 200 has its row", () =>
    Effect.gen(function* () {
      const base = yield* TestServer.baseUrl
      const sql = yield* SqlClient.SqlClient
      const rowCount = (name: string) =>
        Effect.runPromise(
          Effect.map(
            sql<{ n: number }>`SELECT count(*)::int AS n FROM executions WHERE name = ${name}`,
            (r) => r[0]?.n,
          ),
        )
      const name = fc.oneof(
        fc.constantFrom(...contract.map((row) => row.name), "", "World"),
        fc.string({ unit: "binary", maxLength: 300 }),
        // Code points that storage treats specially: NUL, lone surrogates, multi-byte, astral.
        fc.string({
          unit: fc.oneof(
            fc.constantFrom("\u0000", "\ud800", "\udfff", "é", "😀", "\u200b"),
            fc.string({ maxLength: 1 }),
          ),
          maxLength: 20,
        }),
        fc.string({ unit: "grapheme", minLength: 240, maxLength: 270 }),
        fc.anything(),
      )
      const body = fc.oneof(
        fc.record({ name }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
        fc.json(),
        fc.string({ unit: "binary", maxLength: 64 }),
      )
      const allowed = new Set([200, 400, 401, 403, 404, 409, 429, 503])
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(body, async (payload) => {
            const response = await fetch(`${base}/invoke`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: payload,
            })
            const text = await response.text()
            if (!allowed.has(response.status)) return false
            const parsed = JSON.parse(text) as { message?: string; error?: string }
            if (response.status !== 200) return typeof parsed.error === "string"
            const greeted = parsed.message?.match(/^Hello ([\s\S]*) from custom-lang-service!$/s)?.[1]
            return greeted !== undefined && (await rowCount(greeted)) !== 0
          }),
          { numRuns: 300 },
        ),
      )
    }),
  )

  it.effect("the longest name the column holds (255 characters, multi-byte) is accepted and stored", () =>
    Effect.gen(function* () {
      const name = `${"ü".repeat(254)}😀`
      const response = yield* invoke({ name })
      assert.strictEqual(response.status, 200)
      assert.strictEqual((yield* rowsFor(name)).length, 1)
    }),
  )

  it.effect("the typed client derived from the same contract decodes answers and errors", () =>
    Effect.gen(function* () {
      const client = yield* HttpApiClient.make(LangApi, { baseUrl: yield* TestServer.baseUrl })
      const ok = yield* client.lang.invoke({ payload: { name: "typed" } })
      assert.deepStrictEqual(ok, { message: "Hello typed from custom-lang-service!" })
      const error = yield* Effect.flip(client.lang.invoke({ payload: { name: "conflict" } }))
      assert.strictEqual(error._tag, "Conflict")
    }).pipe(Effect.provide(FetchHttpClient.layer)),
  )

  it.effect("/healthz answers ok while the database answers, 503 with the contract body when it does not", () =>
    Effect.gen(function* () {
      const base = yield* TestServer.baseUrl
      const healthz = Effect.promise(async () => {
        const response = await fetch(`${base}/healthz`)
        return { status: response.status, body: await response.text() }
      })
      assert.deepStrictEqual(yield* healthz, { status: 200, body: "ok\n" })

      const sql = yield* SqlClient.SqlClient
      const [current] = yield* sql<{ db: string }>`SELECT current_database() AS db`
      const db = current?.db ?? ""
      // Refuse new connections and cut the open ones: the service's pool can no longer reach it.
      yield* TestDatabase.onServer((admin) => admin`ALTER DATABASE ${admin(db)} ALLOW_CONNECTIONS false`)
      yield* Effect.gen(function* () {
        yield* TestDatabase.onServer(
          (admin) => admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${db}`,
        )
        const response = yield* healthz
        assert.strictEqual(response.status, 503)
        assert.deepStrictEqual(JSON.parse(response.body), { error: "db health check failed" })
        // The row cannot be written; lang still answers, as the contract says.
        const greeting = yield* invoke({ name: "while-db-down" })
        assert.strictEqual(greeting.status, 200)
        assert.deepStrictEqual(JSON.parse(greeting.body), { message: "Hello while-db-down from custom-lang-service!" })
      }).pipe(
        Effect.ensuring(
          TestDatabase.onServer((admin) => admin`ALTER DATABASE ${admin(db)} ALLOW_CONNECTIONS true`).pipe(
            Effect.orDie,
          ),
        ),
      )
      assert.deepStrictEqual(yield* healthz, { status: 200, body: "ok\n" })
    }),
  )
})
