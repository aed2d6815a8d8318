import { type Context, Effect, Layer, Schema, type Scope } from "effect"
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

/** A repository whose one operation is `insert`, as a service's table of this kind has. */
export interface Repo<Row> {
  readonly insert: Insert<Row>
}

/** The layers such a repository has, for its service class's statics. */
export const layers = <Self, Row, Encoded extends Record<string, unknown>>(
  tag: Context.Key<Self, Repo<Row>>,
  options: { readonly table: string; readonly row: Schema.Codec<Row, Encoded>; readonly name: string },
) => ({
  /** On PostgreSQL: one statement for every row that arrived while the previous one was on the wire. */
  layer: Layer.effect(
    tag,
    Effect.map(make(options), (insert) => ({ insert })),
  ),
  /** Rows appended to `rows` instead of a table: for tests, which read them back. */
  layerMemory: (rows: Array<Row> = []) =>
    Layer.succeed(tag, { insert: (row: Row) => Effect.sync(() => void rows.push(row)) }),
  /** Without a database: nothing is stored, as the contract allows. */
  disabled: Layer.succeed(tag, { insert: () => Effect.void }),
})
