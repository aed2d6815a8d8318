import { createContext, useContext, useSyncExternalStore } from "react"
import type { Api } from "./clients/Api.ts"
import type { Session, Tokens } from "./Session.ts"

/** What the console's components call: the REST clients and the session (the tests give their own). */
export interface Platform {
  readonly api: Api
  readonly session: Session
}

export const PlatformContext = createContext<Platform | undefined>(undefined)

export const usePlatform = (): Platform => {
  const platform = useContext(PlatformContext)
  if (platform === undefined) throw new Error("usePlatform outside <PlatformContext.Provider>")
  return platform
}

/** The signed-in user, re-rendering on sign-in, refresh and sign-out. */
export const useTokens = (): Tokens | undefined => {
  const { session } = usePlatform()
  return useSyncExternalStore(session.subscribe, session.current)
}

/** The edge refused the access token (HTTP 401), whatever client saw it. */
const isUnauthorized = (error: unknown) => {
  const reason = (error as { readonly reason?: { readonly response?: { readonly status?: number } } }).reason
  return reason?.response?.status === 401
}

/** A REST call with the access token; refreshed once and retried when the edge refuses it. */
export const authorized = async <A,>(session: Session, call: (token: string) => Promise<A>): Promise<A> => {
  const tokens = session.current()
  if (tokens === undefined) throw new Error("not signed in")
  try {
    return await call(tokens.token)
  } catch (error) {
    if (!isUnauthorized(error)) throw error
    const fresh = await session.refresh(tokens.token)
    if (fresh === undefined) throw error
    return await call(fresh.token)
  }
}
