import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { settings } from "../src/OtlpSettings.ts"
import { describeError } from "../src/ServiceConfig.ts"

const read = (env: Record<string, string>) => settings.parse(ConfigProvider.fromEnv({ env }))
const refusal = (env: Record<string, string>) => Effect.map(Effect.flip(read(env)), describeError)
const targets = (env: Record<string, string>) =>
  Effect.map(read(env), ({ targets }) => targets.map(({ signal, protocol, url }) => `${signal} ${protocol} ${url}`))

describe("OTLP settings, as the OpenTelemetry specification defines them", () => {
  it.effect("no endpoint, or an empty one: nothing exported", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* targets({}), [])
      assert.deepStrictEqual(yield* targets({ OTEL_EXPORTER_OTLP_ENDPOINT: " " }), [])
      assert.deepStrictEqual(yield* targets({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }), [])
    }),
  )

  it.effect("the shared endpoint: every signal, http/protobuf by default, each on its own path", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* targets({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }), [
        "traces http/protobuf http://collector:4318/v1/traces",
        "metrics http/protobuf http://collector:4318/v1/metrics",
        "logs http/protobuf http://collector:4318/v1/logs",
      ])
      assert.deepStrictEqual(
        yield* targets({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
        ["traces grpc http://collector:4317", "metrics grpc http://collector:4317", "logs grpc http://collector:4317"],
      )
    }),
  )

  it.effect("per signal: an endpoint used as it is, a protocol, headers that add to the shared ones, none", () =>
    Effect.gen(function* () {
      const read_ = yield* read({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://tempo:4317",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_HEADERS: "api-key=s%20ecret,tenant=a",
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: "tenant=b",
        OTEL_LOGS_EXPORTER: "none",
      })
      assert.deepStrictEqual(
        read_.targets.map(({ signal, protocol, url, headers }) => [signal, protocol, url, headers]),
        [
          ["traces", "grpc", "http://tempo:4317", { "api-key": "s ecret", tenant: "a" }],
          ["metrics", "http/json", "http://collector:4318/v1/metrics", { "api-key": "s ecret", tenant: "b" }],
        ],
      )
    }),
  )

  it.effect("the sampler: parent-based always-on by default, and the specification's names", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual((yield* read({})).sampler, { _tag: "ParentBased", root: { _tag: "AlwaysOn" } })
      assert.deepStrictEqual(
        (yield* read({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" })).sampler,
        { _tag: "ParentBased", root: { _tag: "TraceIdRatio", ratio: 0.25 } },
      )
      assert.deepStrictEqual((yield* read({ OTEL_TRACES_SAMPLER: "always_off" })).sampler, { _tag: "AlwaysOff" })
    }),
  )

  const bad = [
    {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" },
      expected: "OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL",
    },
    {
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: "udp" },
      expected: 'OTEL_EXPORTER_OTLP_PROTOCOL: expected grpc, http/protobuf or http/json, got "udp"',
    },
    {
      env: { OTEL_EXPORTER_OTLP_HEADERS: "novalue" },
      expected: "OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs",
    },
    { env: { OTEL_TRACES_SAMPLER: "sometimes" }, expected: "OTEL_TRACES_SAMPLER: expected always_on" },
    { env: { OTEL_TRACES_SAMPLER_ARG: "2" }, expected: "OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1" },
  ]
  it.effect.each(bad)("a bad value is one line naming the variable: $env", ({ env, expected }) =>
    Effect.gen(function* () {
      const message = yield* refusal(env)
      assert.include(message, expected)
      assert.notInclude(message, "\n")
    }),
  )
})
