import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Context, Schema } from "effect"

/** One row of `greetings`. */
export const Greeting = Schema.Struct({
  name: Schema.String,
  message: Schema.String,
  external_status: Schema.NullOr(Schema.Int),
})
export type Greeting = typeof Greeting.Type

/** `greetings`, written one row per request before the answer: on PostgreSQL, in memory, or nowhere. */
export class GreetingsRepo extends Context.Service<GreetingsRepo, BatchedInsert.Repo<Greeting>>()(
  "greeter/GreetingsRepo",
) {
  private static readonly layers = BatchedInsert.layers(GreetingsRepo, {
    table: "greetings",
    row: Greeting,
    name: "GreetingsRepo.insert",
  })
  static readonly layer = GreetingsRepo.layers.layer
  static readonly layerMemory = GreetingsRepo.layers.layerMemory
  static readonly disabled = GreetingsRepo.layers.disabled
}
