import * as Database from "@platform/shared/Database"
import * as GroupCommit from "@platform/shared/GroupCommit"
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
      // One statement for every row that arrived while the previous one was on the wire.
      const rows = yield* GroupCommit.make({
        name: "InvocationsRepo.insert batch",
        write: SqlSchema.void({
          Request: Schema.NonEmptyArray(Invocation),
          execute: (rows) => sql`INSERT INTO invocations ${sql.insert(rows)}`,
        }),
      })
      return InvocationsRepo.of({ insert: (row) => rows.write(row).pipe(Database.query("InvocationsRepo.insert")) })
    }),
  )

  static readonly disabled = Layer.succeed(InvocationsRepo, { insert: () => Effect.void })
}
