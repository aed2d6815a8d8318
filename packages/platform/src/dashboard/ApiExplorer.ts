import {
  type ApiAnswer,
  type ApiCall,
  type ApiEndpoint,
  ServiceUnreachable,
  UnknownService,
} from "@platform/contracts/DashboardApi"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import type { Target } from "./ServiceProbe.ts"

/**
 * The console's API explorer, server side: every REST endpoint of the services (from each one's
 * `/openapi.json`, its HttpApi contract), and requests sent on the console's behalf to a service
 * by name on loopback, where the browser cannot go (lang, say, which the edge does not route).
 * Only the platform's services: a name, never a URL.
 */
const Operation = Schema.Struct({
  operationId: Schema.optionalKey(Schema.String),
  summary: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Schema.String),
  requestBody: Schema.optionalKey(
    Schema.Struct({
      content: Schema.optionalKey(
        Schema.Record(Schema.String, Schema.Struct({ schema: Schema.optionalKey(Schema.Unknown) })),
      ),
    }),
  ),
})
// A path item holds `parameters`, `summary`... beside its operations: each method is read on its own.
const OpenApi = Schema.Struct({ paths: Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.Unknown)) })
const decodeOpenApi = Schema.decodeUnknownOption(Schema.fromJsonString(OpenApi))
const decodeOperation = Schema.decodeUnknownOption(Operation)

const METHODS = new Set(["get", "post", "put", "patch", "delete"])
const MAX_BODY = 64 * 1024

/** `{ "field": "" }` for each property of the request's JSON schema (its object branch). */
export const exampleOf = (schema: unknown): string | null => {
  const objects = (node: unknown): ReadonlyArray<Record<string, unknown>> => {
    if (typeof node !== "object" || node === null) return []
    const record = node as Record<string, unknown>
    if (record.type === "object" && typeof record.properties === "object" && record.properties !== null) {
      return [record.properties as Record<string, unknown>]
    }
    return Array.isArray(record.anyOf) ? record.anyOf.flatMap(objects) : []
  }
  const [properties] = objects(schema)
  if (properties === undefined) return null
  return JSON.stringify(Object.fromEntries(Object.keys(properties).map((key) => [key, ""])), null, 2)
}

export const endpointsOf = (service: string, text: string): ReadonlyArray<ApiEndpoint> =>
  Option.match(decodeOpenApi(text), {
    onNone: () => [],
    onSome: (doc) =>
      Object.entries(doc.paths).flatMap(([path, operations]) =>
        Object.entries(operations)
          .flatMap(([method, raw]) => {
            const operation = METHODS.has(method) ? decodeOperation(raw) : Option.none()
            return Option.isSome(operation) ? [[method, operation.value] as const] : []
          })
          .map(([method, operation]) => ({
            service,
            method: method.toUpperCase(),
            path,
            operationId: operation.operationId ?? `${method} ${path}`,
            summary: operation.summary ?? operation.description ?? "",
            example: exampleOf(operation.requestBody?.content?.["application/json"]?.schema),
          })),
      ),
  })

/** Headers that describe the connection, not the request: the dashboard's own. */
const NOT_FORWARDED = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"])

export class ApiExplorer extends Context.Service<
  ApiExplorer,
  {
    readonly endpoints: Effect.Effect<ReadonlyArray<ApiEndpoint>>
    readonly call: (request: ApiCall) => Effect.Effect<ApiAnswer, UnknownService | ServiceUnreachable>
  }
>()("platform/ApiExplorer") {
  static readonly layer = (targets: ReadonlyArray<Target>) =>
    Layer.effect(
      ApiExplorer,
      Effect.gen(function* () {
        // Effect's HttpClient on undici, not `fetch`: the services' ports may be ones `fetch` refuses.
        const client = yield* HttpClient.HttpClient
        const documentOf = (target: Target) =>
          client.get(`http://127.0.0.1:${target.port}/openapi.json`).pipe(
            Effect.flatMap((response) =>
              response.status === 200
                ? Effect.map(response.text, (text) => endpointsOf(target.name, text))
                : Effect.succeed([]),
            ),
            Effect.timeoutOrElse({ duration: "1500 millis", orElse: () => Effect.succeed([]) }),
            Effect.orElseSucceed((): ReadonlyArray<ApiEndpoint> => []),
          )
        return ApiExplorer.of({
          endpoints: Effect.map(
            Effect.forEach(
              targets.filter((target) => target.name !== "edge"),
              documentOf,
              { concurrency: "unbounded" },
            ),
            (lists) => lists.flat(),
          ),
          call: (request) => {
            const target = targets.find((candidate) => candidate.name === request.service)
            if (target === undefined) {
              return Effect.fail(new UnknownService({ error: `no service named ${request.service}` }))
            }
            const url = new URL(request.path, `http://127.0.0.1:${target.port}`)
            // The path is a path: whatever it holds, the request stays on the service's port.
            if (url.host !== `127.0.0.1:${target.port}`) {
              return Effect.fail(new UnknownService({ error: `${request.path} is not a path of ${request.service}` }))
            }
            const headers = Object.fromEntries(
              Object.entries(request.headers).filter(([name]) => !NOT_FORWARDED.has(name.toLowerCase())),
            )
            const base = HttpClientRequest.setHeaders(HttpClientRequest.make(request.method)(url), headers)
            const outgoing =
              request.body === null || request.method === "GET"
                ? base
                : HttpClientRequest.bodyText(base, request.body, headers["content-type"] ?? "application/json")
            const unreachable = (reason: string) =>
              new ServiceUnreachable({ error: `${request.service} did not answer: ${reason}` })
            return Effect.gen(function* () {
              const started = performance.now()
              const response = yield* client.execute(outgoing)
              const body = yield* response.text
              return {
                status: response.status,
                headers: { ...response.headers },
                body: body.length > MAX_BODY ? `${body.slice(0, MAX_BODY)}\n… (cut at 64 KiB)` : body,
                durationMs: performance.now() - started,
              }
            }).pipe(
              Effect.mapError((error) => unreachable(error.message)),
              Effect.timeoutOrElse({
                duration: "10 seconds",
                orElse: () => Effect.fail(unreachable("no answer within 10 s")),
              }),
            )
          },
        })
      }),
    )
}
