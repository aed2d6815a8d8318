import { decodeJwt } from "jose"
import type { Headers } from "../Proxy.ts"

/**
 * Auth's "yes" to a bearer token, kept for a moment so that a client's next requests skip the
 * forward-auth round trip: it was the largest cost of a request through the edge (the request to
 * auth, auth's handler, its answer: a third of the CPU a Greet through the edge takes).
 *
 * What is kept is only a 2xx verdict and the headers it copies upstream (`X-User-*`), keyed by
 * the whole `Authorization` value, for `ttlMs` at most and never past the token's own `exp`.
 * Refusals are not kept: a client whose token is refused is asked again every time, as before.
 * A logout through this edge (`POST /auth/logout`), or a refresh auth refuses (a reused refresh
 * token ends its session), empties the cache once auth has answered, so a session ended here is
 * refused here at once. A session ended through another edge is refused here within `ttlMs`,
 * the same order as auth's own replicas learn it (`AUTH_REVOCATION_POLL_MS`, 1 s). `ttlMs` 0
 * turns the cache off: every request asks auth, as Traefik's forward-auth does.
 *
 * At most `maxEntries` tokens are kept; past that, the oldest verdict goes first.
 */
export interface VerdictCache {
  /** The upstream headers of a verdict still fresh at `now`, if any. */
  readonly get: (authorization: string, now: number) => Headers | undefined
  /** Taken before auth is asked: a verdict asked for before a session ended is not kept after it. */
  readonly epoch: () => number
  /** Keeps a 2xx verdict asked for at `epoch`, unless the cache is off or the token expires sooner than it would help. */
  readonly keep: (authorization: string, copied: Headers, now: number, epoch: number) => void
  /** Auth answered a request that went through the edge: a revocation empties the cache. */
  readonly answered: (method: string, path: string, status: number) => void
  readonly size: () => number
}

interface Entry {
  readonly expiresAt: number
  readonly copied: Headers
}

/** `exp` in epoch milliseconds, from the token's claims (unverified: auth has just verified it). */
const expiresAt = (authorization: string): number | undefined => {
  const token = /^bearer\s+(\S+)$/i.exec(authorization)?.[1]
  if (token === undefined) return undefined
  try {
    const { exp } = decodeJwt(token)
    return typeof exp === "number" ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

/** A revocation auth makes: any logout, or a refresh it refuses (the reuse of a refresh token). */
export const revokes = (method: string, path: string, status: number) => {
  if (method !== "POST") return false
  const pathname = path.split("?")[0]
  return pathname === "/auth/logout" || (pathname === "/auth/refresh" && (status < 200 || status >= 300))
}

export const make = (options: { readonly ttlMs: number; readonly maxEntries?: number }): VerdictCache => {
  const maxEntries = options.maxEntries ?? 10_000
  const entries = new Map<string, Entry>()
  /** Sessions ended so far (revocations seen): a verdict asked for before the last one is stale. */
  let revocations = 0
  return {
    epoch: () => revocations,
    get: (authorization, now) => {
      const entry = entries.get(authorization)
      if (entry === undefined) return undefined
      if (entry.expiresAt > now) return entry.copied
      entries.delete(authorization)
      return undefined
    },
    keep: (authorization, copied, now, epoch) => {
      if (options.ttlMs <= 0 || epoch !== revocations) return
      // A token without `exp` never expires by itself: it is kept for the TTL, as any other.
      const until = Math.min(now + options.ttlMs, expiresAt(authorization) ?? Number.POSITIVE_INFINITY)
      if (until <= now) return
      entries.delete(authorization)
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next()
        if (!oldest.done) entries.delete(oldest.value)
      }
      entries.set(authorization, { expiresAt: until, copied })
    },
    answered: (method, path, status) => {
      if (!revokes(method, path, status)) return
      revocations++
      entries.clear()
    },
    size: () => entries.size,
  }
}
