import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SpecimenApi } from "../Api.ts"
import { Entries } from "../Entries.ts"

/** The REST adapter: the contract's endpoints onto the domain. */
export const EntriesHttp = HttpApiBuilder.group(SpecimenApi, "entries", (handlers) =>
  Effect.gen(function* () {
    const entries = yield* Entries
    return handlers.handle("create", ({ payload }) => entries.create(payload.text))
  }),
)
