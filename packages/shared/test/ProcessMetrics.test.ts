import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as Metrics from "../src/Metrics.ts"
import * as ProcessMetrics from "../src/ProcessMetrics.ts"

describe("process metrics", () => {
  it.effect("a scrape reads memory, heap, CPU, open files, event-loop delay and GC of this process", () =>
    Effect.gen(function* () {
      yield* ProcessMetrics.refresh
      const text = yield* PrometheusMetrics.format()
      const value = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1] ?? Number.NaN)
      assert.isAbove(value("process_resident_memory_bytes"), 10 * 1024 * 1024)
      assert.isAbove(value("nodejs_heap_size_used_bytes"), 0)
      assert.isAtLeast(value("nodejs_heap_size_total_bytes"), value("nodejs_heap_size_used_bytes"))
      assert.isAbove(value("process_cpu_seconds_total"), 0)
      assert.isAbove(value("process_open_fds"), 2)
      assert.isAtLeast(value("nodejs_eventloop_lag_p99_seconds"), 0)
      assert.isAtLeast(value("nodejs_gc_duration_seconds_total"), 0)
    }).pipe(Effect.provide(Metrics.layer)),
  )
})
