/**
 * Baseline, first hop of the plain greet chain: greeter's Greet with connect-node and `pg`, no
 * Effect. It asks caller (a connect-node client, Connect binary over h2c, as the original Go
 * greeter's connect-go client does), writes the `greetings` row, then answers.
 */
import type { ConnectRouter } from "@connectrpc/connect"
import { createClient } from "@connectrpc/connect"
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node"
import { CallerService } from "@platform/proto-compat/caller/v1"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { makeDualProtocolServer } from "@platform/shared/Server"
import pg from "pg"
import { listen } from "./listen.ts"

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
const caller = createClient(
  CallerService,
  createConnectTransport({ baseUrl: process.env.CALLER_BASE_URL ?? "", httpVersion: "2", useBinaryFormat: true }),
)
const external = process.env.EXTERNAL_API_URL ?? ""

const adapter = connectNodeAdapter({
  routes: (router: ConnectRouter) => {
    router.service(GreeterService, {
      greet: async (request, context) => {
        const name = request.name || "World"
        const answer = await caller.callExternal({ url: external }, { signal: context.signal, timeoutMs: 2000 })
        const message = `Hello ${name} from greeter-service!`
        await pool.query("INSERT INTO greetings (name, message, external_status) VALUES ($1, $2, $3)", [
          name,
          message,
          answer.statusCode,
        ])
        return { message, externalStatus: answer.statusCode, externalBodyLength: answer.bodyLength }
      },
    })
  },
})

const server = makeDualProtocolServer()
server.on("request", adapter)
listen(server, () => pool.end())
