import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Schema } from "effect"

/** One row of `invocations`: the message on success, the error text on failure. */
export const Invocation = Schema.Struct({
  name: Schema.String,
  result_message: Schema.NullOr(Schema.String),
  success: Schema.Boolean,
})
export type Invocation = typeof Invocation.Type

/** `invocations`, written one row per request before the answer: on PostgreSQL, in memory, or nowhere. */
export class InvocationsRepo extends BatchedInsert.Repository<InvocationsRepo, Invocation>()(
  "gateway/InvocationsRepo",
  {
    table: "invocations",
    row: Invocation,
  },
) {}
