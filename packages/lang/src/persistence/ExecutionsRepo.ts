import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Schema } from "effect"

/** One row of `executions`: what lang answered to one call. */
export const Execution = Schema.Struct({
  name: Schema.String,
  /** The message on success, `null` on the configured errors. */
  result_message: Schema.NullOr(Schema.String),
  status_code: Schema.Int,
})
export type Execution = typeof Execution.Type

/** `executions`, written one row per request before the answer: on PostgreSQL, in memory, or nowhere. */
export class ExecutionsRepo extends BatchedInsert.Repository<ExecutionsRepo, Execution>()("lang/ExecutionsRepo", {
  table: "executions",
  row: Execution,
}) {}
