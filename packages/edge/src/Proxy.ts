import type * as http from "node:http"
import type * as http2 from "node:http2"
import { type Readable, Transform } from "node:stream"
import type { Dispatcher } from "undici"

export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest
export type NodeResponse = http.ServerResponse | http2.Http2ServerResponse

/** Headers of one connection, not of the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "te",
  "trailer",
  // The edge's own server answered it (100 Continue or 413); undici refuses to send it on.
  "expect",
])

export type Headers = Record<string, string | Array<string>>

/** A streamed request body went past the edge's limit. */
class BodyTooLarge extends Error {
  override readonly name = "BodyTooLarge"
}

/** Whether an upstream failure is the body limit's doing (undici may wrap it). */
export const isBodyTooLarge = (error: unknown): boolean => {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof BodyTooLarge) return true
    current = current.cause
  }
  return false
}

/**
 * The body as it streams, failing past `limit` bytes: a body without a length (HTTP/2, chunked)
 * is counted on its way through instead of being trusted.
 */
export const atMost = (body: Readable, limit: number): Readable => {
  let seen = 0
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length
      if (seen > limit) callback(new BodyTooLarge(`request body larger than ${limit} bytes`))
      else callback(null, chunk)
    },
  })
  body.on("error", (error) => counted.destroy(error))
  return body.pipe(counted)
}

/** The request's end-to-end headers, HTTP/2 pseudo-headers folded into `host`. */
export const requestHeaders = (request: NodeRequest): Headers => {
  const headers: Headers = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name.startsWith(":") || HOP_BY_HOP.has(name)) continue
    headers[name] = value
  }
  const authority = request.headers[":authority"]
  if (headers.host === undefined && typeof authority === "string") headers.host = authority
  // gRPC needs `te: trailers` to reach the server; no other TE value may cross HTTP/2.
  if (request.headers.te === "trailers") headers.te = "trailers"
  return headers
}

const responseHeaders = (upstream: Record<string, string | Array<string> | undefined>, extra: Headers): Headers => {
  const headers: Headers = {}
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    headers[name] = value
  }
  for (const [name, value] of Object.entries(extra)) {
    headers[name] = name === "vary" && headers.vary !== undefined ? `${headers.vary}, ${value}` : value
  }
  return headers
}

/** How one attempt ended: the response went out (wholly or not), or no response came at all. */
export type Outcome = { readonly _tag: "Answered" } | { readonly _tag: "NoResponse"; readonly error: Error }

/**
 * Sends the request to the upstream through undici and streams the answer back, status,
 * headers, body and trailers (gRPC's `grpc-status` travels in HTTP/2 trailers). A client that
 * goes away aborts the upstream request; a failure before any response byte is reported, not
 * answered, so that the caller can retry or answer 502.
 */
export const forward = (options: {
  readonly dispatcher: Dispatcher
  readonly method: string
  readonly path: string
  readonly headers: Headers
  readonly body: Buffer | Readable | undefined
  readonly response: NodeResponse
  readonly extraResponseHeaders: Headers
}): Promise<Outcome> =>
  new Promise((resolve) => {
    const { response } = options
    let started = false
    let controller: Dispatcher.DispatchController | undefined
    const onClientGone = () => {
      if (!response.writableFinished) controller?.abort(new Error("the client went away"))
    }
    response.once("close", onClientGone)
    options.dispatcher.dispatch(
      {
        path: options.path,
        method: options.method as Dispatcher.HttpMethod,
        headers: options.headers,
        body: options.body ?? null,
      },
      {
        onRequestStart(control) {
          controller = control
        },
        onResponseStart(_control, statusCode, headers) {
          started = true
          ;(response as http.ServerResponse).writeHead(
            statusCode,
            responseHeaders(headers, options.extraResponseHeaders),
          )
        },
        onResponseData(control, chunk) {
          if (!(response as http.ServerResponse).write(chunk)) {
            control.pause()
            response.once("drain", () => control.resume())
          }
        },
        onResponseEnd(_control, trailers) {
          const forwarded = responseHeaders(trailers, {})
          if (Object.keys(forwarded).length > 0) (response as http.ServerResponse).addTrailers(forwarded)
          response.end()
          response.off("close", onClientGone)
          resolve({ _tag: "Answered" })
        },
        onResponseError(_control, error) {
          response.off("close", onClientGone)
          if (!started) return resolve({ _tag: "NoResponse", error })
          response.destroy(error)
          resolve({ _tag: "Answered" })
        },
      },
    )
  })
