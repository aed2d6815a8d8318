import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Context, Effect, Layer, Schema } from "effect"

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
  { readonly insert: BatchedInsert.Insert<Execution> }
>()("lang/ExecutionsRepo") {
  /** One statement for every row that arrived while the previous one was on the wire. */
  static readonly layer = Layer.effect(
    ExecutionsRepo,
    Effect.map(BatchedInsert.make({ table: "executions", row: Execution, name: "ExecutionsRepo.insert" }), (insert) =>
      ExecutionsRepo.of({ insert }),
    ),
  )

  /** Rows appended to `rows` instead of a table: for tests, which read them back. */
  static readonly layerMemory = (rows: Array<Execution> = []) =>
    Layer.succeed(ExecutionsRepo, { insert: (row) => Effect.sync(() => void rows.push(row)) })

  /** Without a database: nothing is stored, as the contract allows. */
  static readonly disabled = Layer.succeed(ExecutionsRepo, { insert: () => Effect.void })
}
