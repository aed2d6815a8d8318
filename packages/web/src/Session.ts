/**
 * Who is signed in: the access token, the refresh token, the email, kept in `localStorage` so a
 * reload stays signed in. An access token that the edge refuses is refreshed once, and only
 * once however many calls failed with it at the same time (they all wait for the same refresh);
 * a refresh that fails signs the user out.
 */
export interface Tokens {
  readonly email: string
  readonly token: string
  readonly refreshToken: string
}

export interface Session {
  readonly current: () => Tokens | undefined
  readonly signIn: (tokens: Tokens) => void
  readonly signOut: () => void
  /** For React's `useSyncExternalStore`. */
  readonly subscribe: (listener: () => void) => () => void
  /**
   * New tokens in place of `rejected` (the access token a call was refused with): the ones a
   * concurrent refresh already got, or a refresh of our own. `undefined` when signed out.
   */
  readonly refresh: (rejected: string) => Promise<Tokens | undefined>
}

const KEY = "effect-platform.session"

const isTokens = (value: unknown): value is Tokens =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as Tokens).email === "string" &&
  typeof (value as Tokens).token === "string" &&
  typeof (value as Tokens).refreshToken === "string"

export const makeSession = (options: {
  /** Exchanges a refresh token for a new session (auth's `POST /auth/refresh`). */
  readonly refresh: (refreshToken: string) => Promise<{ readonly token: string; readonly refreshToken: string }>
  readonly storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | undefined
}): Session => {
  const { storage } = options
  const stored = (() => {
    try {
      const value: unknown = JSON.parse(storage?.getItem(KEY) ?? "null")
      return isTokens(value) ? value : undefined
    } catch {
      return undefined
    }
  })()
  let tokens: Tokens | undefined = stored
  let inFlight: Promise<Tokens | undefined> | undefined
  const listeners = new Set<() => void>()

  const set = (next: Tokens | undefined) => {
    tokens = next
    if (next === undefined) storage?.removeItem(KEY)
    else storage?.setItem(KEY, JSON.stringify(next))
    for (const listener of listeners) listener()
  }

  return {
    current: () => tokens,
    signIn: set,
    signOut: () => set(undefined),
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    refresh: (rejected) => {
      const now = tokens
      if (now === undefined) return Promise.resolve(undefined)
      if (now.token !== rejected) return Promise.resolve(now)
      inFlight ??= options
        .refresh(now.refreshToken)
        .then(
          (fresh) => {
            const next = { email: now.email, token: fresh.token, refreshToken: fresh.refreshToken }
            set(next)
            return next as Tokens | undefined
          },
          () => {
            set(undefined)
            return undefined
          },
        )
        .finally(() => {
          inFlight = undefined
        })
      return inFlight
    },
  }
}
