import { Effect, Layer, Option } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import { ServiceConfig } from "./ServiceConfig.ts"

/**
 * Traces go to `OTEL_EXPORTER_OTLP_ENDPOINT` over OTLP/HTTP (JSON) when it is set, named after
 * `OTEL_SERVICE_NAME`; without it spans are still created (trace ids appear in logs and
 * propagate to other services) but nothing is exported. The exporter flushes when the layer
 * closes, so a graceful shutdown loses no spans.
 */
export const layer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ServiceConfig
    if (Option.isNone(config.otlpEndpoint)) return Layer.empty
    const url = new URL("v1/traces", withTrailingSlash(config.otlpEndpoint.value)).href
    yield* Effect.logInfo(`exporting traces to ${url}`)
    return OtlpTracer.layer({ url, resource: { serviceName: config.serviceName } }).pipe(
      Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer]),
    )
  }),
)

const withTrailingSlash = (url: URL) => (url.href.endsWith("/") ? url.href : `${url.href}/`)
