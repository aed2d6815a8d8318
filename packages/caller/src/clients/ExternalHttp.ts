import { NodeHttpClient } from "@effect/platform-node"
import * as UrlPolicy from "../UrlPolicy.ts"

/**
 * The HTTP client caller fetches external URLs with: undici, its sockets resolving names
 * through the URL policy's check, so a DNS answer cannot smuggle in a denied address.
 */
export const ExternalHttp = NodeHttpClient.layerUndiciOptions({ connect: { lookup: UrlPolicy.lookup } as never })
