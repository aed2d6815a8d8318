import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Context, Effect, Layer, Schema } from "effect"

/** One row of `invocations`: the message on success, the error text on failure. */
export const Invocation = Schema.Struct({
  name: Schema.String,
  result_message: Schema.NullOr(Schema.String),
  success: Schema.Boolean,
})
export type Invocation = typeof Invocation.Type

export class InvocationsRepo extends Context.Service<
  InvocationsRepo,
  { readonly insert: BatchedInsert.Insert<Invocation> }
>()("gateway/InvocationsRepo") {
  /** One statement for every row that arrived while the previous one was on the wire. */
  static readonly layer = Layer.effect(
    InvocationsRepo,
    Effect.map(
      BatchedInsert.make({ table: "invocations", row: Invocation, name: "InvocationsRepo.insert" }),
      (insert) => InvocationsRepo.of({ insert }),
    ),
  )

  /** Rows appended to `rows` instead of a table: for tests, which read them back. */
  static readonly layerMemory = (rows: Array<Invocation> = []) =>
    Layer.succeed(InvocationsRepo, { insert: (row) => Effect.sync(() => void rows.push(row)) })

  /** Without a database: nothing is stored, as the contract allows. */
  static readonly disabled = Layer.succeed(InvocationsRepo, { insert: () => Effect.void })
}
