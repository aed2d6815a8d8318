import * as Bulkhead from "@platform/resilience/Bulkhead"
import { Effect } from "effect"

/**
 * Work shared fairly between clients: each client runs at most `perClient` calls at once and
 * queues at most `queuedPerClient` more (then `BulkheadRejected`). For logins, whose bcrypt runs
 * on libuv's few threads in arrival order: without a share, one client sending logins as fast as
 * the edge lets it fills the queue, and everyone's login waits behind it (0.1 s became 6 to 13 s).
 * A client's bulkhead lives while it has calls, so the map holds only clients with work.
 */
export const make = (options: {
  readonly name: string
  readonly perClient: number
  readonly queuedPerClient: number
}) => {
  const clients = new Map<string, { readonly bulkhead: Bulkhead.Bulkhead; calls: number }>()
  const entry = (client: string) =>
    Effect.suspend(() => {
      const found = clients.get(client)
      if (found !== undefined) return Effect.succeed(found)
      return Effect.map(
        Bulkhead.make({ name: options.name, maxConcurrent: options.perClient, maxQueued: options.queuedPerClient }),
        // Made meanwhile by another call of the same client: that one is the client's.
        (bulkhead) => clients.get(client) ?? clients.set(client, { bulkhead, calls: 0 }).get(client)!,
      )
    })
  return <A, E, R>(client: string, effect: Effect.Effect<A, E, R>) =>
    Effect.flatMap(entry(client), (share) => {
      share.calls++
      return share.bulkhead.execute(effect).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            if (--share.calls === 0) clients.delete(client)
          }),
        ),
      )
    })
}
