import * as fs from "node:fs"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { Effect, Metric } from "effect"

/**
 * The process beside the service's own series, read at each scrape: memory, heap, CPU, open
 * files, event-loop delay and garbage collection, under the names Prometheus' Node.js client
 * uses, so existing dashboards and alerts read them.
 */

const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory size in bytes" })
const heapUsed = Metric.gauge("nodejs_heap_size_used_bytes", { description: "Process heap size used, in bytes" })
const heapTotal = Metric.gauge("nodejs_heap_size_total_bytes", { description: "Process heap size, in bytes" })
const cpuSeconds = Metric.gauge("process_cpu_seconds_total", {
  description: "User and system CPU time spent, in seconds",
})
const openFds = Metric.gauge("process_open_fds", { description: "Open file descriptors" })
const loopDelayP99 = Metric.gauge("nodejs_eventloop_lag_p99_seconds", {
  description: "99th percentile of the event loop's delay since the last scrape, in seconds",
})
const loopDelayMax = Metric.gauge("nodejs_eventloop_lag_max_seconds", {
  description: "Longest event loop delay since the last scrape, in seconds",
})
const gcSeconds = Metric.gauge("nodejs_gc_duration_seconds_total", {
  description: "Time spent in garbage collection since the process started, in seconds",
})

/** One monitor and one observer per process, whatever the number of services in it (tests). */
let started: { readonly delay: ReturnType<typeof monitorEventLoopDelay>; gcMillis: number } | undefined
const monitors = () => {
  if (started !== undefined) return started
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const state = { delay, gcMillis: 0 }
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) state.gcMillis += entry.duration
  })
  observer.observe({ entryTypes: ["gc"] })
  started = state
  return state
}

const countOpenFds = () => {
  try {
    return fs.readdirSync("/proc/self/fd").length
  } catch {
    return undefined
  }
}

/** Brings the process gauges up to date: run before each scrape. */
export const refresh = Effect.suspend(() => {
  const { delay, gcMillis } = monitors()
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  const fds = countOpenFds()
  const p99 = delay.percentile(99) / 1e9
  const max = delay.max / 1e9
  delay.reset()
  return Effect.all(
    [
      Metric.update(residentMemory, memory.rss),
      Metric.update(heapUsed, memory.heapUsed),
      Metric.update(heapTotal, memory.heapTotal),
      Metric.update(cpuSeconds, (cpu.user + cpu.system) / 1e6),
      Metric.update(loopDelayP99, Number.isFinite(p99) ? p99 : 0),
      Metric.update(loopDelayMax, Number.isFinite(max) ? max : 0),
      Metric.update(gcSeconds, gcMillis / 1000),
      ...(fds === undefined ? [] : [Metric.update(openFds, fds)]),
    ],
    { discard: true },
  )
})
