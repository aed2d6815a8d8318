import type * as http from "node:http"
import type { Readable } from "node:stream"
import { Effect, Schema } from "effect"
import type { Headers, NodeRequest, NodeResponse } from "./Proxy.ts"
import type { Route } from "./Routes.ts"

/** One request on its way through the edge's middlewares to its upstream. */
export interface Exchange {
  readonly request: NodeRequest
  readonly response: NodeResponse
  /** The route the path matched (matched once, by the router). */
  readonly route: Route
  /** Path and query as the client sent them. */
  readonly path: string
  /** The client's address: the socket's, or from a trusted proxy's forwarding headers. */
  readonly client: string
  /** What goes upstream: the client's headers, forwarding headers, what forward-auth copied. */
  readonly upstreamHeaders: Headers
  /** Added to whatever answers the client (CORS). */
  responseHeaders: Headers
  /**
   * What the next attempt sends as the body, set by a middleware that may send it again (retry):
   * the stream for the first attempt, the kept copy for a resend. Unset, the request streams.
   */
  body?: Buffer | Readable | undefined
}

/** The upstream gave no response at all (refused, reset, unreachable): what Traefik retries. */
export class UpstreamUnreachable extends Schema.TaggedError<UpstreamUnreachable>()("UpstreamUnreachable", {
  upstream: Schema.String,
  message: Schema.String,
  /** The connection was refused: the upstream never got the request (it is restarting, say). */
  refused: Schema.Boolean,
}) {}

/** Handles an exchange: answers the client itself, or fails when the upstream did not answer. */
export type Handler = (exchange: Exchange) => Effect.Effect<void, UpstreamUnreachable>

/** One of Traefik's middlewares: wraps the rest of the chain. */
export type Middleware = (next: Handler) => Handler

/** Answers the client from the edge itself, with the headers middlewares added (CORS). */
export const respond = (exchange: Exchange, status: number, headers: Headers, body: string | Uint8Array = "") =>
  Effect.sync(() => {
    const response = exchange.response as http.ServerResponse
    if (response.headersSent || response.destroyed) return
    response.writeHead(status, {
      ...headers,
      ...exchange.responseHeaders,
      "content-length": String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength),
    })
    response.end(body)
  })

export const plainText = { "content-type": "text/plain" } as const
