import * as BestEffort from "@platform/shared/BestEffort"
import { Context, Effect, Layer } from "effect"
import { SpecimenConfig } from "./Config.ts"
import { InvalidText } from "./errors.ts"
import { EntriesRepo } from "./persistence/EntriesRepo.ts"

export interface Entry {
  readonly text: string
  readonly length: number
}

/** Why `text` cannot be stored in PostgreSQL's `text`, or `undefined`. */
const problem = (text: string, max: number) => {
  if (text.length === 0) return "must not be empty"
  if (text.length > max) return `must be at most ${max} characters`
  if (text.includes("\u0000")) return "must not contain NUL characters"
  if (!text.isWellFormed()) return "must be valid Unicode text"
  return undefined
}

/**
 * The domain: an entry is accepted and recorded in `entries` before the answer. No wire
 * vocabulary here (no Connect codes): the adapter in `inbound/` maps the domain's errors.
 */
export class Entries extends Context.Service<
  Entries,
  { readonly create: (text: string) => Effect.Effect<Entry, InvalidText> }
>()("specimen/Entries") {
  static readonly layer = Layer.effect(
    Entries,
    Effect.gen(function* () {
      const config = yield* SpecimenConfig
      const entries = yield* EntriesRepo
      const create = Effect.fn("Entries.create")(function* (text: string) {
        const wrong = problem(text, config.maxTextLength)
        if (wrong !== undefined) return yield* new InvalidText({ problem: wrong })
        const row = { text }
        // Written before the answer; while the database is away the answer goes out and the row is held.
        yield* entries.insert(row).pipe(BestEffort.write("the entry", row))
        return { text, length: text.length }
      })
      return Entries.of({ create })
    }),
  )
}
