import type { Interceptor } from "@connectrpc/connect"

/**
 * Every Connect call from the console starts its trace here (W3C `traceparent`), which the edge
 * and every service continue: the console then knows each outcome's trace id and links to it.
 */
const latest = new Map<string, string>()

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, "0")).join("")

export const traceInterceptor: Interceptor = (next) => async (request) => {
  const traceId = hex(16)
  request.header.set("traceparent", `00-${traceId}-${hex(8)}-01`)
  latest.set(request.method.name, traceId)
  return await next(request)
}

/** The trace of the last call of `method` (`Greet`, `InvokeCustom`): the console sends one at a time. */
export const latestTrace = (method: string): string | undefined => latest.get(method)
