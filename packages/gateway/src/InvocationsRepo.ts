import * as Database from "@platform/shared/Database"
import { Context, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

/** One row of `invocations`: the message on success, the error text on failure. */
export const Invocation = Schema.Struct({
  name: Schema.String,
  result_message: Schema.NullOr(Schema.String),
  success: Schema.Boolean,
})
export type Invocation = typeof Invocation.Type

export class InvocationsRepo extends Context.Service<
  InvocationsRepo,
  { readonly insert: (row: Invocation) => Effect.Effect<void, SqlError.SqlError | Schema.SchemaError> }
>()("gateway/InvocationsRepo") {
  static readonly layer = Layer.effect(
    InvocationsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const insert = SqlSchema.void({
        Request: Invocation,
        execute: (row) => sql`INSERT INTO invocations ${sql.insert(row)}`,
      })
      return InvocationsRepo.of({ insert: (row) => insert(row).pipe(Database.query("InvocationsRepo.insert")) })
    }),
  )

  static readonly disabled = Layer.succeed(InvocationsRepo, { insert: () => Effect.void })
}
