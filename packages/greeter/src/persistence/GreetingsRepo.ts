import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Schema } from "effect"

/** One row of `greetings`. */
export const Greeting = Schema.Struct({
  name: Schema.String,
  message: Schema.String,
  external_status: Schema.NullOr(Schema.Int),
})
export type Greeting = typeof Greeting.Type

/** `greetings`, written one row per request before the answer: on PostgreSQL, in memory, or nowhere. */
export class GreetingsRepo extends BatchedInsert.Repository<GreetingsRepo, Greeting>()("greeter/GreetingsRepo", {
  table: "greetings",
  row: Greeting,
}) {}
