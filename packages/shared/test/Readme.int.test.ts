import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { service } from "@platform/testkit/Processes"
import * as Readme from "@platform/testkit/Readme"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

describe("README", () => {
  it.live("the example service starts as written, with and without a database, and answers", () =>
    Effect.gen(function* () {
      const file = join(packageDir, `.readme-example-${process.pid}.ts`)
      writeFileSync(file, Readme.example(packageDir).code)
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(file, { force: true })))
      const database = yield* TestDatabase.freshDatabase("readme")
      for (const env of [{}, { DATABASE_URL: database.href }]) {
        const base = yield* Effect.scoped(
          Effect.gen(function* () {
            const url = yield* service(file, env)
            const hello = yield* Effect.promise(() => fetch(`${url}/hello`).then((r) => r.text()))
            const health = yield* Effect.promise(() => fetch(`${url}/healthz`).then((r) => r.text()))
            return [hello, health]
          }),
        )
        assert.deepStrictEqual(base, ["hello\n", "ok\n"], JSON.stringify(env))
      }
      // With the database, the example's migration ran there.
      const sql = yield* Effect.map(Layer.build(TestDatabase.sqlClient(database)), Context.get(SqlClient.SqlClient))
      const [table] = yield* sql<{ name: string | null }>`SELECT to_regclass('visits')::text AS name`
      assert.strictEqual(table?.name, "visits")
    }),
  )
})
