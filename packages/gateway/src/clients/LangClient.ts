import { NodeHttpClient } from "@effect/platform-node"
import { LangApi, rejectionStatus } from "@platform/contracts/LangApi"
import * as RetryAfter from "@platform/resilience/RetryAfter"
import * as Deadline from "@platform/shared/Deadline"
import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { Clock, Context, Effect, Layer } from "effect"
import { HttpClient, HttpClientError } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { GatewayConfig } from "../Config.ts"
import { type AttemptFailure, LangFailed, LangRejected } from "../errors.ts"

const LANG = "custom-lang-service"

/** A status another lang implementation (or a proxy in front of it) may answer with. */
const rejected = (status: number, detail: string | undefined, retryAfterMs: number | undefined) =>
  new LangRejected({
    status,
    message: `${LANG} returned ${status}${detail === undefined ? "" : `: ${detail}`}`,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  })

/** Where one call notes the `Retry-After` of its response: the decoded errors no longer carry it. */
const RetryAfterOfCall = Context.Reference<{ ms: number | undefined }>("gateway/RetryAfterOfCall", {
  defaultValue: () => ({ ms: undefined }),
})

/** Notes each response's `Retry-After` for the call that made it. */
const noteRetryAfter = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.tap(client, (response) =>
    Effect.flatMap(Effect.service(RetryAfterOfCall), (note) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        note.ms = RetryAfter.parse(response.headers["retry-after"], now)
      }),
    ),
  )

/**
 * One call to lang's `POST /invoke`, through the client derived from lang's own HttpApi
 * contract: no request building or JSON parsing by hand. Statuses >= 400 come back as
 * `LangRejected` with the status, whether lang declared them or not.
 */
export class LangClient extends Context.Service<
  LangClient,
  { readonly invoke: (name: string) => Effect.Effect<string, AttemptFailure> }
>()("gateway/LangClient") {
  static readonly layer = Layer.effect(
    LangClient,
    Effect.gen(function* () {
      const config = yield* GatewayConfig
      // Each call tells lang what is left of its deadline (`x-request-timeout-ms`).
      const client = yield* HttpApiClient.make(LangApi, {
        baseUrl: config.langBaseUrl,
        transformClient: (http) => noteRetryAfter(Deadline.sendOn(http)),
      })
      const invoke = (name: string) => {
        const note: { ms: number | undefined } = { ms: undefined }
        return client.lang.invoke({ payload: { name } }).pipe(
          Effect.provideService(RetryAfterOfCall, note),
          Effect.catch((error): Effect.Effect<never, AttemptFailure> => {
            if (HttpClientError.isHttpClientError(error)) {
              const reason = error.reason
              if ("response" in reason && reason.response.status >= 400) {
                return Effect.fail(rejected(reason.response.status, undefined, note.ms))
              }
              return Effect.fail(new LangFailed({ message: `${LANG} is unreachable: ${ErrorMessage.describe(error)}` }))
            }
            if (error._tag === "InvalidRequest") return Effect.fail(rejected(400, error.error, note.ms))
            if (error._tag !== "SchemaError") {
              return Effect.fail(rejected(rejectionStatus[error._tag], error.error, note.ms))
            }
            return Effect.fail(
              new LangFailed({ message: `${LANG} answered something unexpected: ${ErrorMessage.describe(error)}` }),
            )
          }),
          Effect.flatMap(({ message }) =>
            message === ""
              ? Effect.fail(new LangFailed({ message: `${LANG} returned an empty message` }))
              : Effect.succeed(message),
          ),
        )
      }
      return LangClient.of({ invoke })
    }),
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))
}
