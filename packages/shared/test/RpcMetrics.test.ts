import { assert, describe, it } from "@effect/vitest"
import * as PrometheusText from "@platform/testkit/PrometheusText"
import { Effect, Fiber, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as RpcMetrics from "../src/RpcMetrics.ts"

const method = { system: "effect_rpc", service: "test.Service", method: "Call" }

describe("RpcMetrics.observe", () => {
  it.effect("counts each call under its outcome: ok, its failure's code, canceled, internal", () =>
    Effect.gen(function* () {
      const observe = RpcMetrics.observe(method, (error: "bad" | "gone") =>
        error === "bad" ? "invalid_argument" : "unavailable",
      )
      yield* observe(Effect.succeed(1))
      yield* Effect.flip(observe(Effect.fail("bad" as const)))
      yield* Effect.flip(observe(Effect.fail("gone" as const)))
      yield* Effect.exit(observe(Effect.die(new Error("a bug"))))
      const waiting = yield* Effect.forkChild(observe(Effect.never))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(waiting)
      const metrics = PrometheusText.parse(yield* PrometheusMetrics.format())
      const calls = (code: string) => PrometheusText.sum(metrics, "rpc_server_requests_total", { ...method, code })
      assert.deepStrictEqual(
        ["ok", "invalid_argument", "unavailable", "internal", "canceled"].map(calls),
        [1, 1, 1, 1, 1],
      )
      assert.strictEqual(PrometheusText.sum(metrics, "rpc_server_duration_seconds_count", method), 5)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())),
  )
})
