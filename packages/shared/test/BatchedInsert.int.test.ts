import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as TcpProxy from "@platform/testkit/TcpProxy"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Context, Effect, Exit, Layer, Logger, Schema, Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as BatchedInsert from "../src/BatchedInsert.ts"
import * as Database from "../src/Database.ts"
import { jsonLogger } from "../src/Logging.ts"

const Note = Schema.Struct({ body: Schema.String })

const migrations: Database.Migrations = {
  "0001_create_notes": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`CREATE TABLE notes (id uuid PRIMARY KEY, body text NOT NULL)`,
  ),
}

class NotesRepo extends BatchedInsert.Repository<NotesRepo, typeof Note.Type>()("test/NotesRepo", {
  table: "notes",
  row: Note,
}) {}

/** One run of a service that writes notes, on `url`, with its spool in `spool`: its repo and its scope. */
const service = (url: URL, spool: string, lines: Array<{ message: string }>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const logger = Logger.layer([jsonLogger("spool-test", (line) => lines.push(JSON.parse(line)))])
    const context = yield* Layer.buildWithScope(
      NotesRepo.layer.pipe(
        Layer.provideMerge(Database.layer(migrations)),
        Layer.provide(
          TestServer.config(
            { name: "spool-test", port: 1 },
            { DATABASE_URL: url.href, SPOOL_DIR: spool, DATABASE_WRITE_TIMEOUT_MS: "200", SHUTDOWN_TIMEOUT_MS: "1000" },
          ),
        ),
        Layer.provide(logger),
      ),
      scope,
    )
    return { repo: Context.get(context, NotesRepo), close: Scope.close(scope, Exit.void) }
  })

describe("BatchedInsert with SPOOL_DIR", () => {
  it.live(
    "rows held through an outage survive the service stopping first, and are written once at the next start",
    () =>
      Effect.gen(function* () {
        const url = yield* TestDatabase.freshDatabase("spool_rows")
        const real = TestDatabase.serverUrl()
        const proxy = yield* TcpProxy.make({ host: real.hostname, port: Number(real.port || 5432) })
        const spool = fs.mkdtempSync(path.join(os.tmpdir(), "rows-spool-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(spool, { recursive: true, force: true })))
        const lines: Array<{ message: string }> = []

        const first = yield* service(proxy.via(url), spool, lines)
        yield* first.repo.insert({ body: "before" })
        yield* proxy.cut
        // Each insert answers after the write timeout, without its row: held, and on disk.
        // (Logged by the requests' own fibers: the test's logger is theirs.)
        const requestLogger = Logger.layer([jsonLogger("spool-test", (line) => lines.push(JSON.parse(line)))])
        for (let i = 0; i < 5; i++) {
          yield* first.repo.insert({ body: `during ${i}` }).pipe(Effect.provide(requestLogger))
        }
        yield* first.close
        const messages = lines.map((line) => line.message)
        // Spooled rows are announced once for the outage, not once each.
        assert.strictEqual(messages.filter((m) => m.startsWith("the database did not take the notes row")).length, 1)
        assert.strictEqual(messages.filter((m) => m.includes("kept in the spool for the next start")).length, 5)
        assert.notInclude(messages.join("\n"), "lost a notes row")
        assert.isAbove(fs.readdirSync(spool).length, 0, "the spool holds them")

        yield* proxy.restore
        const second = yield* service(proxy.via(url), spool, lines)
        const sql = yield* Effect.map(Layer.build(TestDatabase.sqlClient(url)), Context.get(SqlClient.SqlClient))
        let bodies: ReadonlyArray<string> = []
        for (let attempt = 0; attempt < 100 && bodies.length < 6; attempt++) {
          yield* Effect.sleep("100 millis")
          bodies = (yield* sql<{ body: string }>`SELECT body FROM notes ORDER BY body`).map((row) => row.body)
        }
        assert.deepStrictEqual(bodies, ["before", "during 0", "during 1", "during 2", "during 3", "during 4"])
        yield* second.close
        assert.deepStrictEqual(fs.readdirSync(spool), [], "written rows leave nothing on disk")
      }),
  )
})
