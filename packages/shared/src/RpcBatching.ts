import { type Duration, Effect, Layer } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { RpcClient, type RpcMessage, type RpcSerialization } from "effect/rpc"

/**
 * Effect RPC over HTTP that shares an HTTP request among calls only when they crowd in: a call
 * made while no other is waiting for its answer is sent at once, in a request of its own, as
 * `RpcClient.layerProtocolHttp` sends every call; a call made while others are out joins a batch
 * that leaves `window` after it opened (or at `maxSize` calls). An idle client's call never
 * waits; under load one HTTP request and one HTTP answer carry many calls, and those were most
 * of what a call cost greeter and caller (`pnpm bench`: the Greet chain's CPU per request fell
 * by a fifth to a half, in runs of this noisy machine).
 *
 * The server must frame its answers (`RpcSerialization.layerNdjson`): each call's answer is
 * written and decoded as it completes, so a quick call never waits for a slow one that shares
 * its request. What a shared request changes: a call interrupted by its caller stops being
 * waited for while the request carries on (the server finishes the call, within the deadline it
 * was sent with); a lone call's request is cancelled with it, as before. A request that fails
 * (the server went away) fails every call it carried, as each would have failed alone.
 *
 * Effect's own batched protocol opens a batch with every call, so every call would wait the
 * window at any load: this keeps its batches and skips them when nothing else is out.
 */
export const layerProtocolHttp = (options: {
  readonly url: string
  readonly window: Duration.Duration
  readonly maxSize?: number | undefined
}): Layer.Layer<RpcClient.Protocol, never, HttpClient.HttpClient | RpcSerialization.RpcSerialization> =>
  Layer.effect(
    RpcClient.Protocol,
    Effect.gen(function* () {
      const client = HttpClient.mapRequest(yield* HttpClient.HttpClient, HttpClientRequest.prependUrl(options.url))
      const alone = yield* RpcClient.makeProtocolHttp(client)
      const shared = yield* RpcClient.makeProtocolHttp(client, {
        batch: { window: options.window, maxSize: options.maxSize ?? 32 },
      })
      /**
       * Calls sent and not yet answered, by id: while there are any, a new call is in a crowd. A
       * call leaves when its answer arrives, not when its send returns: a caller that makes its
       * next call as soon as the answer is in would otherwise find the last call still "out" and
       * wait a window for nothing (every other call of a sequential caller did, before this).
       */
      const outstanding = new Set<string>()
      const answered = (response: RpcMessage.FromServerEncoded) => {
        if (response._tag === "Exit") outstanding.delete(String(response.requestId))
        else if (response._tag === "Defect" || response._tag === "ClientProtocolError") outstanding.clear()
      }
      return RpcClient.Protocol.of({
        // Answers come back through whichever protocol sent the call: both deliver to the client.
        run: (clientId, write) => {
          const deliver = (response: RpcMessage.FromServerEncoded) => {
            answered(response)
            return write(response)
          }
          return Effect.andThen(
            Effect.all([alone.run(clientId, deliver), shared.run(clientId, deliver)], {
              concurrency: "unbounded",
              discard: true,
            }),
            Effect.never,
          )
        },
        send: (clientId, request, transferables) => {
          if (request._tag === "Interrupt") {
            // Given up on: no one waits for its answer (a lone call's request is aborted with it).
            outstanding.delete(String(request.requestId))
            return Effect.void
          }
          // Neither HTTP protocol sends anything but calls (no acknowledgements, no pings).
          if (request._tag !== "Request") return Effect.void
          return Effect.suspend(() => {
            const id = String(request.id)
            const crowded = outstanding.size > 0
            outstanding.add(id)
            return (crowded ? shared : alone)
              .send(clientId, request, transferables)
              .pipe(Effect.onError(() => Effect.sync(() => void outstanding.delete(id))))
          })
        },
        supportsAck: false,
        supportsTransferables: false,
        codecFor: alone.codecFor,
      })
    }),
  )
