import * as Database from "@platform/shared/Database"
import * as GroupCommit from "@platform/shared/GroupCommit"
import { Context, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

/** One row of `greetings`. */
export const Greeting = Schema.Struct({
  name: Schema.String,
  message: Schema.String,
  external_status: Schema.NullOr(Schema.Int),
})
export type Greeting = typeof Greeting.Type

export class GreetingsRepo extends Context.Service<
  GreetingsRepo,
  { readonly insert: (row: Greeting) => Effect.Effect<void, SqlError.SqlError | Schema.SchemaError> }
>()("greeter/GreetingsRepo") {
  static readonly layer = Layer.effect(
    GreetingsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // One statement for every row that arrived while the previous one was on the wire.
      const rows = yield* GroupCommit.make({
        name: "GreetingsRepo.insert batch",
        write: SqlSchema.void({
          Request: Schema.NonEmptyArray(Greeting),
          execute: (rows) => sql`INSERT INTO greetings ${sql.insert(rows)}`,
        }),
      })
      return GreetingsRepo.of({ insert: (row) => rows.write(row).pipe(Database.query("GreetingsRepo.insert")) })
    }),
  )

  /** Without a database: nothing is stored, as the contract allows. */
  static readonly disabled = Layer.succeed(GreetingsRepo, { insert: () => Effect.void })
}
