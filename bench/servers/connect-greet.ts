/**
 * Baseline: a plain `@connectrpc/connect-node` Greet handler, no Effect and no database, on the
 * same one-port HTTP/1.1 + h2c listener as the platform (so Connect JSON, binary and gRPC reach
 * it the same way). What connect-node itself costs per call.
 */
import type { ConnectRouter } from "@connectrpc/connect"
import { connectNodeAdapter } from "@connectrpc/connect-node"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { makeDualProtocolServer } from "@platform/shared/Server"
import { listen } from "./listen.ts"

const adapter = connectNodeAdapter({
  routes: (router: ConnectRouter) => {
    router.service(GreeterService, {
      greet: (request) => ({
        message: `Hello ${request.name || "World"} from greeter-service!`,
        externalStatus: 200,
        externalBodyLength: 0,
      }),
    })
  },
})

const server = makeDualProtocolServer()
server.on("request", adapter)
listen(server)
