import type * as http from "node:http"
import type * as http2 from "node:http2"
import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf"
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect"
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect"
import { connectNodeAdapter } from "@connectrpc/connect-node"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Cause, Clock, Context, Duration, Effect, Exit, type Layer, Option, Result } from "effect"
import { Headers, HttpRouter, HttpServerRequest, HttpServerResponse, HttpTraceContext } from "effect/http"
import * as Deadline from "./Deadline.ts"
import * as HttpTelemetry from "./HttpTelemetry.ts"
import { secondsSince } from "./Metrics.ts"
import * as RpcMetrics from "./RpcMetrics.ts"
import { maxRequestBytes } from "./ServiceConfig.ts"

/** A unary method's handler, written as an Effect over the generated message types. */
type UnaryHandler<I extends DescMessage, O extends DescMessage, E, R> = (
  request: MessageShape<I>,
  context: HandlerContext,
) => Effect.Effect<MessageInitShape<O>, E, R>

/** One Effect handler per method of a generated service (unary methods: all the contract has). */
export type Handlers<S extends DescService, E, R> = {
  readonly [K in keyof S["method"]]: S["method"][K] extends {
    readonly methodKind: "unary"
    readonly input: infer I extends DescMessage
    readonly output: infer O extends DescMessage
  }
    ? UnaryHandler<I, O, E, R>
    : never
}

/** The failures the handlers can produce. */
export type HandlersError<H> = {
  readonly [K in keyof H]: H[K] extends (...args: never) => Effect.Effect<unknown, infer E, unknown> ? E : never
}[keyof H]

/** The services the handlers need. */
export type HandlersServices<H> = {
  readonly [K in keyof H]: H[K] extends (...args: never) => Effect.Effect<unknown, unknown, infer R> ? R : never
}[keyof H]

/**
 * How a failure is answered: a code by its wire name (`invalid_argument`, `unavailable`...;
 * an unknown name is `internal`) and the message the client reads.
 */
export interface WireError {
  readonly code: string
  readonly message: string
}

/** The deadline a client asked for (`connect-timeout-ms`, `grpc-timeout`) passed. */
const deadlineExceeded = () => new ConnectError("the deadline passed before the call finished", Code.DeadlineExceeded)

/**
 * What a Connect call knows of the HTTP request it arrived on: its fiber's context (its span, its
 * services), and a signal aborted when the server stops waiting for it (the shutdown timeout
 * passed), so that the call is answered `unavailable` in its own protocol before the server
 * gives up on the connection.
 */
interface RequestOrigin {
  readonly context: Context.Context<never>
  readonly stopped: AbortSignal
}

const RequestContext = createContextKey<RequestOrigin | undefined>(undefined, {
  description: "the Effect context of the request",
})

/** The service stopped before the call finished (`SHUTDOWN_TIMEOUT_MS` passed). */
const shuttingDown = () =>
  new ConnectError("the service is shutting down: the call did not finish in time", Code.Unavailable)

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse

/**
 * Serves a generated Connect service from Effect handlers, on the kernel's server: the Connect
 * protocol (JSON and binary), gRPC and gRPC-Web, over HTTP/1.1 and h2c, through
 * `@connectrpc/connect-node` (which owns the wire format, content types and error bodies).
 *
 * Each call runs as a fiber in the context of its HTTP request, inside a server span named
 * `<package>.<Service>/<Method>` that continues the client's trace, and is counted by
 * `RpcMetrics` under its Connect code (gRPC errors are HTTP 200s). The client's deadline
 * becomes an Effect timeout, and a client that cancels or goes away interrupts the fiber.
 * Failures are answered as `toError` words them (a code name and a message, so that a service
 * needs no Connect types of its own); defects are logged and answered as `internal` without
 * details.
 */
// biome-ignore lint/suspicious/noExplicitAny: the constraint only shapes the handlers; E and R are read from H
export const layer = <S extends DescService, H extends Handlers<S, any, any>>(options: {
  readonly service: S
  readonly handlers: H
  readonly toError: (error: HandlersError<H>) => WireError
}): Layer.Layer<never, never, HttpRouter.HttpRouter | HandlersServices<H>> =>
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      type E = HandlersError<H>
      type R = HandlersServices<H>
      const services = yield* Effect.context<R>()
      const { service, handlers } = options
      const toConnectError = (error: E) => {
        const { code, message } = options.toError(error)
        return new ConnectError(message, codeFromString(code) ?? Code.Internal)
      }

      const run = (method: string, handler: UnaryHandler<DescMessage, DescMessage, E, R>) => {
        const spanName = `${service.typeName}/${method}`
        const labels = { system: "connect_rpc", service: service.typeName, method }
        return async (request: MessageShape<DescMessage>, context: HandlerContext) => {
          const origin = context.values.get(RequestContext)
          // The request's values (its route, request-scoped services) win over the layer's.
          const runtime = origin === undefined ? services : Context.merge(services, origin.context)
          const signal = origin === undefined ? context.signal : AbortSignal.any([context.signal, origin.stopped])
          const route = Context.getOption(runtime, HttpTelemetry.RequestRoute)
          if (Option.isSome(route)) route.value.route = `/${spanName}`
          const timeoutMs = context.timeoutMs()
          let effect = handler(request, context)
          if (timeoutMs !== undefined) {
            // The deadline travels with the fiber: calls made inside get what is left of it.
            effect = effect.pipe(
              Deadline.within(timeoutMs),
              Effect.timeoutOrElse({
                duration: Duration.millis(Math.max(0, timeoutMs)),
                orElse: () => Effect.die(deadlineExceeded()),
              }),
            )
          }
          let answer: ConnectError | undefined
          const observed = Effect.flatMap(Clock.currentTimeNanos, (start) =>
            effect.pipe(
              Effect.onExit((exit) =>
                Effect.gen(function* () {
                  const seconds = yield* secondsSince(start)
                  if (Exit.isSuccess(exit)) return yield* RpcMetrics.record(labels, "ok", seconds)
                  const wire = toWireError(exit.cause, toConnectError, signal)
                  answer = wire.error
                  const code = codeToString(wire.error.code)
                  yield* Effect.annotateCurrentSpan("rpc.connect_rpc.error_code", code)
                  if (wire.unexpected) yield* Effect.logError(`${spanName} failed unexpectedly`, exit.cause)
                  if (origin?.stopped.aborted === true) {
                    yield* Effect.logWarning(`${spanName} answered unavailable: the service stopped before it finished`)
                  }
                  yield* RpcMetrics.record(labels, code, seconds)
                }),
              ),
              // One server span per call, named as OpenTelemetry's RPC conventions say, continuing
              // the trace of a client that sent `traceparent` (Connect and gRPC clients alike).
              Effect.withSpan(
                spanName,
                {
                  kind: "server",
                  parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(Headers.fromInput(context.requestHeader))),
                  attributes: { "rpc.system": "connect_rpc", "rpc.service": service.typeName, "rpc.method": method },
                },
                { captureStackTrace: false },
              ),
            ),
          )
          // The adapter edge: connect-node calls a Promise-returning handler, so the Effect is run here.
          const exit = await Effect.runPromiseExitWith(runtime)(observed, { signal })
          if (Exit.isSuccess(exit)) return exit.value
          throw answer ?? toWireError(exit.cause, toConnectError, signal).error
        }
      }

      const implementation: Record<string, (request: never, context: HandlerContext) => Promise<unknown>> = {}
      for (const method of service.methods) {
        const handler = (handlers as Record<string, UnaryHandler<DescMessage, DescMessage, E, R>>)[method.localName]
        if (handler !== undefined) implementation[method.localName] = run(method.name, handler)
      }

      const adapter = connectNodeAdapter({
        routes: (connect: ConnectRouter) => {
          connect.service(service, implementation as never)
        },
        // Past it, resource_exhausted before the message is buffered whole (gRPC's 4 MiB by default).
        readMaxBytes: yield* maxRequestBytes,
        contextValues: (request) =>
          createContextValues().set(RequestContext, requestOrigins.get(request as NodeRequest)),
      })

      const requestOrigins = new WeakMap<NodeRequest, RequestOrigin>()

      yield* mountAdapter(router, service.typeName, adapter, (request, context, stopped) =>
        requestOrigins.set(request, { context, stopped }),
      )
    }),
  )

/**
 * Everything under `/<typeName>/` goes to a connect-node adapter: unknown methods get its 404
 * (clients read it as `unimplemented`), wrong content types its 415. `seen` hears each request
 * with its Effect context before the adapter runs, and a signal aborted if the server stops
 * waiting for it (shutdown): the adapter then answers (`unavailable`), and the server, finding the
 * response written, leaves it alone instead of cutting it with an empty 503.
 */
export const mountAdapter = (
  router: HttpRouter.HttpRouter,
  typeName: string,
  adapter: (request: NodeRequest, response: NodeResponse) => void,
  seen?: (request: NodeRequest, context: Context.Context<never>, stopped: AbortSignal) => void,
) =>
  router.add(
    "*",
    `/${typeName}/*`,
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const nodeRequest = NodeHttpServerRequest.toIncomingMessage(request) as NodeRequest
      const nodeResponse = NodeHttpServerRequest.toServerResponse(request) as NodeResponse
      const stopped = new AbortController()
      seen?.(nodeRequest, yield* Effect.context<never>(), stopped.signal)
      yield* Effect.callback<void>((resume) => {
        nodeResponse.once("close", () => resume(Effect.void))
        adapter(nodeRequest, nodeResponse)
        // Interrupted (the shutdown timeout passed): the call answers before this fiber ends.
        return Effect.callback<void>((answered) => {
          if (nodeResponse.writableEnded || nodeResponse.destroyed) return answered(Effect.void)
          nodeResponse.once("finish", () => answered(Effect.void))
          nodeResponse.once("close", () => answered(Effect.void))
          stopped.abort(shuttingDown())
        }).pipe(Effect.timeoutOption("1 second"), Effect.asVoid)
      })
      // connect-node wrote the whole response; Effect's server leaves an ended one alone.
      return HttpServerResponse.empty()
    }),
  )

/**
 * An expected failure's Connect error needs no stack trace (it is an answer, not a bug), and
 * capturing one is the largest cost of a fast failure (an open breaker's, say).
 */
const withoutStack = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** The Connect error a failed call answers with; `unexpected` when it was a defect (a bug). */
const toWireError = <E>(
  cause: Cause.Cause<E>,
  toConnectError: (error: E) => ConnectError,
  signal: AbortSignal,
): { readonly error: ConnectError; readonly unexpected: boolean } => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) return { error: withoutStack(() => toConnectError(failure.value)), unexpected: false }
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect) && defect.success instanceof ConnectError) {
    return { error: defect.success, unexpected: false }
  }
  if (Cause.hasInterruptsOnly(cause)) {
    // Aborted with its reason: connect-node's deadline, the client leaving, or the shutdown.
    const reason: unknown = signal.reason
    return {
      error: reason instanceof ConnectError ? reason : new ConnectError("the call was cancelled", Code.Canceled),
      unexpected: false,
    }
  }
  return { error: new ConnectError("internal error", Code.Internal), unexpected: true }
}
