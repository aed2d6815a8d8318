import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Schema } from "effect"

/** One row of `entries`. */
export const EntryRow = Schema.Struct({ text: Schema.String })
export type EntryRow = typeof EntryRow.Type

/** `entries`, one row per request before the answer: on PostgreSQL, in memory (tests), or nowhere (no database). */
export class EntriesRepo extends BatchedInsert.Repository<EntriesRepo, EntryRow>()("specimen/EntriesRepo", {
  table: "entries",
  row: EntryRow,
}) {}
