import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { CallerConfig } from "../Config.ts"
import * as UrlPolicy from "../UrlPolicy.ts"

/**
 * The HTTP client caller fetches external URLs with: undici, its sockets resolving names
 * through the URL policy's check, so a DNS answer cannot smuggle in a denied address.
 */
export const ExternalHttp = Layer.unwrap(
  Effect.map(CallerConfig, (config) =>
    NodeHttpClient.layerUndiciOptions({
      connect: { lookup: UrlPolicy.lookup(!config.allowPrivateNetworks) } as never,
    }),
  ),
)
