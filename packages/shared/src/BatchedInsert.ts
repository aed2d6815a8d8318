import { Effect, Schema, type Scope } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"
import * as Database from "./Database.ts"
import * as GroupCommit from "./GroupCommit.ts"

/**
 * The writer of a table a service adds one row to per request, before it answers (greetings,
 * invocations, executions): each `insert(row)` shares one multi-row INSERT with whatever else
 * is waiting (`GroupCommit`), is a span and a duration of its own (`Database.query(name)`), and
 * succeeds once its row is committed.
 */
export type Insert<Row> = (row: Row) => Effect.Effect<void, SqlError.SqlError | Schema.SchemaError>

export const make = <Row, Encoded extends Record<string, unknown>>(options: {
  readonly table: string
  readonly row: Schema.Codec<Row, Encoded>
  /** The operation's name in spans and metrics (`"GreetingsRepo.insert"`). */
  readonly name: string
}): Effect.Effect<Insert<Row>, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* GroupCommit.make({
      name: `${options.name} batch`,
      write: SqlSchema.void({
        Request: Schema.NonEmptyArray(options.row),
        execute: (batch) => sql`INSERT INTO ${sql(options.table)} ${sql.insert(batch as never)}`,
      }),
    })
    return (row: Row) => rows.write(row).pipe(Database.query(options.name))
  })
