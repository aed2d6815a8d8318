import * as Database from "@platform/shared/Database"
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
      const insert = SqlSchema.void({
        Request: Execution,
        execute: (row) => sql`INSERT INTO executions ${sql.insert(row)}`,
      })
      return ExecutionsRepo.of({ insert: (row) => insert(row).pipe(Database.query("ExecutionsRepo.insert")) })
    }),
  )

  /** Without a database: nothing is stored, as the contract allows. */
  static readonly disabled = Layer.succeed(ExecutionsRepo, { insert: () => Effect.void })
}
