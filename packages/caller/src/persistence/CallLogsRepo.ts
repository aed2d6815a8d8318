import * as Database from "@platform/shared/Database"
import { Array as Arr, Context, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/** One row of `call_logs`: one external call and what it returned. */
export const CallLog = Schema.Struct({
  url: Schema.String,
  status_code: Schema.Int,
  body_length: Schema.Int,
})
export type CallLog = typeof CallLog.Type

/**
 * A row as it is stored: with its id and time from the moment of the call, so that a row written
 * twice (from memory and from the spool after a crash) is stored once, with the call's time.
 */
export const StoredCallLog = Schema.Struct({
  ...CallLog.fields,
  id: Schema.String,
  created_at: Schema.String,
})
export type StoredCallLog = typeof StoredCallLog.Type

export class CallLogsRepo extends Context.Service<
  CallLogsRepo,
  { readonly insertMany: (rows: ReadonlyArray<StoredCallLog>) => Effect.Effect<void, SqlError.SqlError> }
>()("caller/CallLogsRepo") {
  /** One multi-row INSERT per batch; a row already stored (same id) is skipped. */
  static readonly layer = Layer.effect(
    CallLogsRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return CallLogsRepo.of({
        insertMany: (rows) =>
          !Arr.isReadonlyArrayNonEmpty(rows)
            ? Effect.void
            : sql`INSERT INTO call_logs ${sql.insert(rows)} ON CONFLICT (id) DO NOTHING`.pipe(
                Effect.asVoid,
                Database.query("CallLogsRepo.insertMany", { attributes: { rows: rows.length } }),
              ),
      })
    }),
  )

  /** Rows appended to `rows` instead of a table: for tests, which read them back. */
  static readonly layerMemory = (rows: Array<StoredCallLog> = []) =>
    Layer.succeed(CallLogsRepo, { insertMany: (batch) => Effect.sync(() => void rows.push(...batch)) })

  /** Without a database the rows go nowhere, as the contract allows. */
  static readonly disabled = Layer.succeed(CallLogsRepo, { insertMany: () => Effect.void })
}
