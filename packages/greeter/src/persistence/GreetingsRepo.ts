import * as BatchedInsert from "@platform/shared/BatchedInsert"
import { Context, Effect, Layer, Schema } from "effect"

/** One row of `greetings`. */
export const Greeting = Schema.Struct({
  name: Schema.String,
  message: Schema.String,
  external_status: Schema.NullOr(Schema.Int),
})
export type Greeting = typeof Greeting.Type

export class GreetingsRepo extends Context.Service<
  GreetingsRepo,
  { readonly insert: BatchedInsert.Insert<Greeting> }
>()("greeter/GreetingsRepo") {
  /** One statement for every row that arrived while the previous one was on the wire. */
  static readonly layer = Layer.effect(
    GreetingsRepo,
    Effect.map(BatchedInsert.make({ table: "greetings", row: Greeting, name: "GreetingsRepo.insert" }), (insert) =>
      GreetingsRepo.of({ insert }),
    ),
  )

  /** Rows appended to `rows` instead of a table: for tests, which read them back. */
  static readonly layerMemory = (rows: Array<Greeting> = []) =>
    Layer.succeed(GreetingsRepo, { insert: (row) => Effect.sync(() => void rows.push(row)) })

  /** Without a database: nothing is stored, as the contract allows. */
  static readonly disabled = Layer.succeed(GreetingsRepo, { insert: () => Effect.void })
}
