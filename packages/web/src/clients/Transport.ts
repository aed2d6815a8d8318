import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect"
import { createConnectTransport } from "@connectrpc/connect-web"
import type { Session } from "../Session.ts"
import { traceInterceptor } from "./Tracing.ts"

/**
 * Sends the access token with every call; when the edge refuses it (it expired, or auth rotated
 * its keys), the session is refreshed once and the call is sent once more. A second refusal, or a
 * failed refresh, reaches the caller as it is. The edge's refusal carries auth's
 * `WWW-Authenticate: Bearer`; a service's own `unauthenticated` (lang's 401 through the gateway)
 * does not, and is never resent: the call already ran.
 */
export const authInterceptor =
  (session: Session): Interceptor =>
  (next) =>
  async (request) => {
    const tokens = session.current()
    if (tokens !== undefined) request.header.set("authorization", `Bearer ${tokens.token}`)
    try {
      return await next(request)
    } catch (error) {
      const refused = ConnectError.from(error)
      const byTheEdge = refused.metadata.get("www-authenticate")?.toLowerCase().startsWith("bearer") === true
      if (tokens === undefined || refused.code !== Code.Unauthenticated || !byTheEdge) throw error
      const fresh = await session.refresh(tokens.token)
      if (fresh === undefined) throw error
      request.header.set("authorization", `Bearer ${fresh.token}`)
      return await next(request)
    }
  }

/** Connect JSON to the edge on the page's own origin, as connect-web in a browser speaks it. */
export const makeTransport = (baseUrl: string, session: Session): Transport =>
  createConnectTransport({ baseUrl, interceptors: [traceInterceptor, authInterceptor(session)] })
