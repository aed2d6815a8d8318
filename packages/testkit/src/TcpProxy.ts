import * as net from "node:net"
import { Effect, type Scope } from "effect"

/**
 * A TCP proxy on a loopback port to `target`, that a test cuts and restores to stage an outage of
 * whatever is behind it (a database, a service). `cut` stops listening and drops every open
 * connection at once, as a server that died would; `restore` listens again on the same port.
 */
export interface TcpProxy {
  readonly port: number
  /** `url` with its host and port replaced by the proxy's. */
  readonly via: (url: URL) => URL
  readonly cut: Effect.Effect<void>
  readonly restore: Effect.Effect<void>
}

export const make = (target: {
  readonly host: string
  readonly port: number
}): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      }
      client.pipe(upstream).pipe(client)
      client.on("error", () => upstream.destroy())
      upstream.on("error", () => client.destroy())
    })
    const listen = (port: number) =>
      Effect.callback<number>((resume) => {
        server.listen(port, "127.0.0.1", () => resume(Effect.succeed((server.address() as net.AddressInfo).port)))
      })
    const close = Effect.callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      if (!server.listening) return resume(Effect.void)
      server.close(() => resume(Effect.void))
    })
    const port = yield* listen(0)
    yield* Effect.addFinalizer(() => close)
    return {
      port,
      via: (url) => {
        const copy = new URL(url.href)
        copy.hostname = "127.0.0.1"
        copy.port = String(port)
        return copy
      },
      cut: close,
      restore: Effect.suspend(() => (server.listening ? Effect.void : Effect.asVoid(listen(port)))),
    }
  })
