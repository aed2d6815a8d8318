import { Context, Effect, Layer, Schema, type Scope } from "effect"
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

/**
 * The service class of such a table's repository, with its three layers:
 *
 * `class GreetingsRepo extends BatchedInsert.Repository<GreetingsRepo, Greeting>()("greeter/GreetingsRepo", { table: "greetings", row: Greeting }) {}`
 *
 * `layer` writes to PostgreSQL (one statement for every row that arrived while the previous one
 * was on the wire), `layerMemory(rows)` appends to an array a test reads back, `disabled` stores
 * nothing (a service without a database, as the contract allows).
 */
export interface RepositoryClass<Self, Id extends string, Row> extends Context.ServiceClass<Self, Id, Repo<Row>> {
  readonly layer: Layer.Layer<Self, never, SqlClient.SqlClient>
  readonly layerMemory: (rows?: Array<Row>) => Layer.Layer<Self>
  readonly disabled: Layer.Layer<Self>
}

export const Repository =
  <Self, Row>() =>
  <const Id extends string, Encoded extends Record<string, unknown>>(
    id: Id,
    options: { readonly table: string; readonly row: Schema.Codec<Row, Encoded> },
  ): RepositoryClass<Self, Id, Row> => {
    const name = `${id.slice(id.lastIndexOf("/") + 1)}.insert`
    return class RepositoryService extends Context.Service<Self, Repo<Row>>()(id) {
      static readonly layer: Layer.Layer<Self, never, SqlClient.SqlClient> = Layer.effect(
        this,
        Effect.map(make({ ...options, name }), (insert) => ({ insert })),
      )
      static readonly layerMemory = (rows: Array<Row> = []): Layer.Layer<Self> =>
        Layer.succeed(this, { insert: (row: Row) => Effect.sync(() => void rows.push(row)) })
      static readonly disabled: Layer.Layer<Self> = Layer.succeed(this, { insert: () => Effect.void })
    }
  }
