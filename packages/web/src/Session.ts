/**
 * Who is signed in: the email and the access token, in memory only. The refresh token never
 * reaches this code: auth keeps it in an HttpOnly cookie (`X-Refresh-Cookie`), which no script
 * can read, an injected one included. Only the email is kept in `localStorage`, as a sign that a
 * reload should try to resume the session with that cookie. An access token that the edge
 * refuses is refreshed once, and only once however many calls failed with it at the same time
 * (they all wait for the same refresh); a refresh that fails signs the user out.
 */
export interface Tokens {
  readonly email: string
  readonly token: string
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
  /** After a reload: the session the cookie still holds, if this browser was signed in. */
  readonly resume: () => Promise<Tokens | undefined>
}

const KEY = "effect-platform.session"

const isSignedInEmail = (value: unknown): value is { readonly email: string } =>
  typeof value === "object" && value !== null && typeof (value as { email: unknown }).email === "string"

export const makeSession = (options: {
  /** A new access token for the refresh cookie (auth's `POST /auth/refresh`); rejects when it is gone. */
  readonly refresh: () => Promise<{ readonly token: string }>
  readonly storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | undefined
}): Session => {
  const { storage } = options
  const storedEmail = (() => {
    try {
      const value: unknown = JSON.parse(storage?.getItem(KEY) ?? "null")
      return isSignedInEmail(value) ? value.email : undefined
    } catch {
      return undefined
    }
  })()
  let tokens: Tokens | undefined
  let inFlight: Promise<Tokens | undefined> | undefined
  const listeners = new Set<() => void>()

  const set = (next: Tokens | undefined) => {
    tokens = next
    if (next === undefined) storage?.removeItem(KEY)
    else storage?.setItem(KEY, JSON.stringify({ email: next.email }))
    for (const listener of listeners) listener()
  }

  const renew = (email: string) => {
    inFlight ??= options
      .refresh()
      .then(
        (fresh) => {
          const next: Tokens = { email, token: fresh.token }
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
      return renew(now.email)
    },
    resume: () => {
      if (tokens !== undefined) return Promise.resolve(tokens)
      return storedEmail === undefined ? Promise.resolve(undefined) : renew(storedEmail)
    },
  }
}
