import * as Database from "@platform/shared/Database"
import * as GroupCommit from "@platform/shared/GroupCommit"
import { Context, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

/** One row of `executions`: what lang answered to one call. */
export const Execution = Schema.Struct({
  name: Schema.String,
  /** The message on success, `null` on the configured errors. */
  result_message: Schema.NullOr(Schema.String),
  status_code: Schema.Int,
})
export type Execution = typeof Execution.Type

export class ExecutionsRepo extends Context.Service<
  ExecutionsRepo,
  { readonly insert: (row: Execution) => Effect.Effect<void, SqlError.SqlError | Schema.SchemaError> }
>()("lang/ExecutionsRepo") {
  static readonly layer = Layer.effect(
    ExecutionsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // One statement for every row that arrived while the previous one was on the wire.
      const rows = yield* GroupCommit.make({
        name: "ExecutionsRepo.insert batch",
        write: SqlSchema.void({
          Request: Schema.NonEmptyArray(Execution),
          execute: (rows) => sql`INSERT INTO executions ${sql.insert(rows)}`,
        }),
      })
      return ExecutionsRepo.of({ insert: (row) => rows.write(row).pipe(Database.query("ExecutionsRepo.insert")) })
    }),
  )

  /** Without a database: nothing is stored, as the contract allows. */
  static readonly disabled = Layer.succeed(ExecutionsRepo, { insert: () => Effect.void })
}
