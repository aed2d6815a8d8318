/** The external API greeter asks caller to fetch: the platform's own loopback stand-in. */
import * as http from "node:http"
import { handler, type Seen } from "@platform/platform/ExternalStub"
import { listen } from "./listen.ts"

// The stub remembers every request for tests; under load nothing needs to be remembered.
const forget: Array<Seen> = Object.assign([], { push: () => 0 })

listen(http.createServer(handler(forget)))
