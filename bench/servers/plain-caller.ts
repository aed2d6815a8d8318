/**
 * Baseline, second hop of the plain greet chain: caller's CallExternal with connect-node and
 * `pg`, no Effect. It fetches the URL, answers with the status and body length, and writes the
 * `call_logs` row after answering, in batches, as the platform's caller does.
 */
import type { ConnectRouter } from "@connectrpc/connect"
import { connectNodeAdapter } from "@connectrpc/connect-node"
import { CallerService } from "@platform/proto-compat/caller/v1"
import { makeDualProtocolServer } from "@platform/shared/Server"
import pg from "pg"
import { listen } from "./listen.ts"

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })

const pending: Array<[string, number, number]> = []
let flushing = false
const flush = async () => {
  if (flushing) return
  flushing = true
  while (pending.length > 0) {
    const rows = pending.splice(0, 100)
    const values = rows.map((_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`).join(", ")
    await pool.query(`INSERT INTO call_logs (url, status_code, body_length) VALUES ${values}`, rows.flat())
  }
  flushing = false
}

const adapter = connectNodeAdapter({
  routes: (router: ConnectRouter) => {
    router.service(CallerService, {
      callExternal: async (request) => {
        const response = await fetch(request.url)
        const body = await response.arrayBuffer()
        pending.push([request.url, response.status, body.byteLength])
        setImmediate(() => void flush())
        return { statusCode: response.status, bodyLength: body.byteLength }
      },
    })
  },
})

const server = makeDualProtocolServer()
server.on("request", adapter)
listen(server, () => flush().then(() => pool.end()))
