import { GatewayApi } from "@platform/contracts/GatewayApi"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Resilience } from "../Resilience.ts"

/** `GET /resilience`: the breaker's state and counts and the budget's tokens. */
export const ResilienceHttp = HttpApiBuilder.group(GatewayApi, "resilience", (handlers) =>
  Effect.gen(function* () {
    const resilience = yield* Resilience
    return handlers.handle("snapshot", () => resilience.snapshot)
  }),
)
