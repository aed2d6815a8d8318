import { assert, layer } from "@effect/vitest"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as App from "../src/App.ts"

/** specimen over real HTTP on a loopback port, on a database of its own, as a client sees it. */
const SpecimenUnderTest = Layer.unwrap(
  Effect.gen(function* () {
    const database = yield* TestDatabase.freshDatabase("specimen_test")
    return Layer.merge(TestServer.layer(App, { DATABASE_URL: database.href }), TestDatabase.sqlClient(database))
  }),
)

const post = (path: string, body: string) =>
  Effect.gen(function* () {
    const base = yield* TestServer.baseUrl
    return yield* Effect.promise(async () => {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      })
      return { status: response.status, body: (await response.json()) as unknown }
    })
  })

const texts = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ text: string }>`SELECT text FROM entries`)

layer(SpecimenUnderTest, { excludeTestServices: true, timeout: "60 seconds" })(
  "specimen over HTTP and PostgreSQL",
  (it) => {
    it.effect("POST /specimen/entries answers 201 and the row is in the database", () =>
      Effect.gen(function* () {
        const response = yield* post("/specimen/entries", JSON.stringify({ text: "first" }))
        assert.deepStrictEqual(response, { status: 201, body: { text: "first", length: 5 } })
        assert.deepInclude(yield* texts, { text: "first" })
      }),
    )

    it.effect("a malformed request is a 400 naming what is wrong, and nothing is written", () =>
      Effect.gen(function* () {
        const before = (yield* texts).length
        for (const body of ["{nope", JSON.stringify({ text: 12 }), JSON.stringify({ text: "" })]) {
          const response = yield* post("/specimen/entries", body)
          assert.strictEqual(response.status, 400, body)
          assert.hasAllKeys(response.body, ["error"])
        }
        assert.strictEqual((yield* texts).length, before)
      }),
    )

    it.effect("/healthz answers ok", () =>
      Effect.gen(function* () {
        const base = yield* TestServer.baseUrl
        const response = yield* Effect.promise(() => fetch(`${base}/healthz`).then((r) => r.text()))
        assert.strictEqual(response, "ok\n")
      }),
    )
  },
)
