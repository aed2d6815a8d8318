import * as BestEffort from "@platform/shared/BestEffort"
import { Context, Effect, Layer } from "effect"
import type { Entry } from "./Api.ts"
import { SpecimenConfig } from "./Config.ts"
import { InvalidRequest } from "./errors.ts"
import { EntriesRepo } from "./persistence/EntriesRepo.ts"

/**
 * The domain: an entry is accepted and recorded in `entries` before the answer. Replace it with
 * your own; keep the shape (a service with a static `layer`, methods as `Effect.fn`).
 */
export class Entries extends Context.Service<
  Entries,
  { readonly create: (text: string) => Effect.Effect<Entry, InvalidRequest> }
>()("specimen/Entries") {
  static readonly layer = Layer.effect(
    Entries,
    Effect.gen(function* () {
      const config = yield* SpecimenConfig
      const entries = yield* EntriesRepo
      const create = Effect.fn("Entries.create")(function* (text: string) {
        if (text.length > config.maxTextLength) {
          return yield* new InvalidRequest({ error: `text: longer than ${config.maxTextLength} characters` })
        }
        const row = { text }
        // Written before the answer; while the database is away the answer goes out and the row is held.
        yield* entries.insert(row).pipe(BestEffort.write("the entry", row))
        return { text, length: text.length }
      })
      return Entries.of({ create })
    }),
  )
}
