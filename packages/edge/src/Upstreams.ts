import { Effect, Option } from "effect"
import { Client, type Dispatcher, Pool } from "undici"
import { EdgeConfig } from "./Config.ts"
import { servedRoutes, type Upstream } from "./Routes.ts"

export interface Target {
  readonly origin: string
  readonly dispatcher: Dispatcher
}

/**
 * One connection pool per upstream, as the routing table describes it: an upstream whose
 * routes speak h2c (the Connect services) gets one multiplexed HTTP/2 connection, the others a
 * pool of HTTP/1.1 connections. Closed with the scope.
 */
export const make = Effect.gen(function* () {
  const config = yield* EdgeConfig
  const origins: Record<Upstream, Option.Option<string>> = {
    greeter: Option.some(config.upstreams.greeter),
    gateway: Option.some(config.upstreams.gateway),
    auth: Option.some(config.upstreams.auth),
    web: config.upstreams.web,
    dashboard: config.upstreams.dashboard,
    ...Object.fromEntries(Object.entries(config.teamUpstreams).map(([name, url]) => [name, Option.some(url)])),
  }
  const targets = new Map<Upstream, Target>()
  for (const route of servedRoutes(Option.isSome(config.upstreams.dashboard))) {
    const origin = origins[route.upstream] ?? Option.none()
    if (Option.isNone(origin) || targets.has(route.upstream)) continue
    const dispatcher = route.h2c
      ? new Client(origin.value, { allowH2: true, h2Options: { useH2c: true }, pipelining: 1 })
      : new Pool(origin.value, { connections: 64 })
    targets.set(route.upstream, { origin: origin.value, dispatcher })
  }
  yield* Effect.addFinalizer(() =>
    Effect.promise(() => Promise.all([...targets.values()].map(({ dispatcher }) => dispatcher.close()))),
  )
  return targets as ReadonlyMap<Upstream, Target>
})
