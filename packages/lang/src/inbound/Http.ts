import { LangApi } from "@platform/contracts/LangApi"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Lang } from "../Lang.ts"

/** The REST adapter: the contract's endpoint onto the domain (its errors carry their statuses). */
export const LangHttp = HttpApiBuilder.group(LangApi, "lang", (handlers) =>
  Effect.gen(function* () {
    const lang = yield* Lang
    return handlers.handle("invoke", ({ payload }) =>
      Effect.map(lang.invoke(payload?.name), (message) => ({ message })),
    )
  }),
)
