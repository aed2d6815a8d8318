import * as http from "node:http"
import type { AddressInfo } from "node:net"

/**
 * A stand-in for the external API greeter asks caller to fetch, on loopback, so that nothing
 * needs the internet: `/` answers a fixed page; `/status/<code>` that status; `/bytes/<n>` n
 * bytes, streamed; `/slow/<ms>` after a delay; `/redirect?to=<url>` a 302. It remembers every
 * request and whether the client went away before the answer (a cancelled call).
 */
export const HOME_PAGE = "hello from the external stand-in\n"

export interface Seen {
  readonly path: string
  /** The client closed the connection before the stub answered. */
  aborted: boolean
  answered: boolean
}

export interface ExternalStub {
  readonly url: string
  readonly port: number
  readonly seen: ReadonlyArray<Seen>
  readonly close: () => Promise<void>
}

const CHUNK = Buffer.alloc(64 * 1024, "x")

export const handler = (seen: Array<Seen>) => (request: http.IncomingMessage, response: http.ServerResponse) => {
  const url = new URL(request.url ?? "/", "http://stub")
  const entry: Seen = { path: url.pathname + url.search, aborted: false, answered: false }
  seen.push(entry)
  response.on("close", () => {
    if (!response.writableFinished) entry.aborted = true
  })
  const finish = (status: number, body: string, headers: http.OutgoingHttpHeaders = {}) => {
    entry.answered = true
    response.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), ...headers })
    response.end(body)
  }
  const [, kind, argument] = url.pathname.split("/")
  if (url.pathname === "/") return finish(200, HOME_PAGE)
  if (kind === "status") {
    const status = Number(argument)
    return finish(status >= 200 && status <= 599 ? status : 400, `status ${argument}\n`)
  }
  if (kind === "slow") {
    const timer = setTimeout(() => finish(200, "slow\n"), Number(argument))
    response.on("close", () => clearTimeout(timer))
    return
  }
  if (kind === "redirect") return finish(302, "", { location: url.searchParams.get("to") ?? "/" })
  if (kind === "bytes") {
    let left = Number(argument)
    entry.answered = true
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": left })
    const pump = () => {
      while (left > 0) {
        const piece = CHUNK.subarray(0, Math.min(left, CHUNK.length))
        left -= piece.length
        if (!response.write(piece)) return response.once("drain", pump)
      }
      response.end()
    }
    return pump()
  }
  finish(404, "not found\n")
}

export const start = (port = 0, host = "127.0.0.1"): Promise<ExternalStub> =>
  new Promise((resolve, reject) => {
    const seen: Array<Seen> = []
    const server = http.createServer(handler(seen))
    server.on("error", reject)
    server.listen(port, host, () => {
      const { port: bound } = server.address() as AddressInfo
      resolve({
        url: `http://${host}:${bound}`,
        port: bound,
        seen,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          }),
      })
    })
  })
