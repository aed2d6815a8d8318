import * as net from "node:net"
import { Effect, type Scope } from "effect"

/**
 * A TCP proxy on a loopback port to `target`, that a test cuts and restores to stage an outage of
 * whatever is behind it (a database, a service). `cut` stops listening and drops every open
 * connection at once, as a server that died would; `restore` listens again on the same port.
 * `freeze` holds every byte either way and every new connection, as a server stopped with
 * SIGSTOP does (the kernel still accepts, nothing answers); `thaw` lets them all through.
 */
export interface TcpProxy {
  readonly port: number
  /** `url` with its host and port replaced by the proxy's. */
  readonly via: (url: URL) => URL
  readonly cut: Effect.Effect<void>
  readonly restore: Effect.Effect<void>
  readonly freeze: Effect.Effect<void>
  readonly thaw: Effect.Effect<void>
}

export const make = (target: {
  readonly host: string
  readonly port: number
}): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<net.Socket>()
    let frozen = false
    /** What a freeze holds back, in order: bytes on their way, connections not yet opened. */
    const held: Array<() => void> = []
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on("data", (chunk) => (frozen ? held.push(() => to.write(chunk)) : to.write(chunk)))
    const open = (client: net.Socket) => {
      const upstream = net.connect(target.port, target.host)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      }
      forward(client, upstream)
      forward(upstream, client)
      client.on("close", () => upstream.end())
      upstream.on("close", () => client.end())
      client.on("error", () => upstream.destroy())
      upstream.on("error", () => client.destroy())
    }
    const server = net.createServer((client) => {
      if (!frozen) return open(client)
      client.on("error", () => {})
      held.push(() => open(client))
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
      freeze: Effect.sync(() => {
        frozen = true
      }),
      thaw: Effect.sync(() => {
        frozen = false
        for (const release of held.splice(0)) release()
      }),
    }
  })
