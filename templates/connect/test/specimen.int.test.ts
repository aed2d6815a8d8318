import { Code, ConnectError, createClient } from "@connectrpc/connect"
import { createGrpcTransport } from "@connectrpc/connect-node"
import { assert, layer } from "@effect/vitest"
import { SpecimenService } from "@platform/proto-compat/specimen/v1"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as App from "../src/App.ts"

/** specimen over real HTTP/2 on a loopback port, on a database of its own, as a gRPC client sees it. */
const SpecimenUnderTest = Layer.unwrap(
  Effect.gen(function* () {
    const database = yield* TestDatabase.freshDatabase("specimen_test")
    return Layer.merge(TestServer.layer(App, { DATABASE_URL: database.href }), TestDatabase.sqlClient(database))
  }),
)

const client = Effect.map(TestServer.baseUrl, (baseUrl) =>
  createClient(SpecimenService, createGrpcTransport({ baseUrl })),
)

const texts = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ text: string }>`SELECT text FROM entries`)

layer(SpecimenUnderTest, { excludeTestServices: true, timeout: "60 seconds" })(
  "specimen over gRPC and PostgreSQL",
  (it) => {
    it.effect("CreateEntry answers the entry and the row is in the database", () =>
      Effect.gen(function* () {
        const specimen = yield* client
        const answer = yield* Effect.promise(() => specimen.createEntry({ text: "first" }))
        assert.deepStrictEqual({ text: answer.text, length: answer.length }, { text: "first", length: 5 })
        assert.deepInclude(yield* texts, { text: "first" })
      }),
    )

    it.effect("an empty text is invalid_argument with the reason, and nothing is written", () =>
      Effect.gen(function* () {
        const specimen = yield* client
        const before = (yield* texts).length
        const error = yield* Effect.promise(() =>
          specimen.createEntry({ text: "" }).then(
            () => undefined,
            (e) => e,
          ),
        )
        assert.instanceOf(error, ConnectError)
        assert.strictEqual((error as ConnectError).code, Code.InvalidArgument)
        assert.strictEqual((error as ConnectError).rawMessage, "text: must not be empty")
        assert.strictEqual((yield* texts).length, before)
      }),
    )
  },
)
