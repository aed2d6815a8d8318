import { execFile, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { Schema } from "effect"
import type { Figures, HttpRequest, Shape } from "./Load.ts"

/**
 * The load from wrk (C, one thread) for the scenarios whose subject is the server's use of more
 * than one core: the in-process driver is one Node thread, which a two-worker service outruns
 * (lang did 2,981 and 3,009 req/s with 1 and 2 workers under it, 9,574 and 16,547 under wrk).
 * Debian's `wrk` package; without it those scenarios are skipped and say so.
 */
export const available = (): boolean => spawnSync("wrk", ["--version"]).error === undefined

/** What the script's `done` prints: wrk's own summary, latencies in microseconds. */
const Summary = Schema.Struct({
  requests: Schema.Number,
  durationMicros: Schema.Number,
  statusErrors: Schema.Number,
  socketErrors: Schema.Number,
  p50: Schema.Number,
  p99: Schema.Number,
  p999: Schema.Number,
})
const decode = Schema.decodeUnknownSync(Schema.fromJsonString(Summary))

/** A Lua long string that cannot end inside `text`. */
const longString = (text: string) => {
  let level = ""
  while (text.includes(`]${level}]`)) level += "="
  return `[${level}[${text}]${level}]`
}

const script = (request: HttpRequest) =>
  [
    `wrk.method = "${request.method}"`,
    ...(typeof request.body === "string" ? [`wrk.body = ${longString(request.body)}`] : []),
    ...Object.entries(request.headers).map(
      ([name, value]) => `wrk.headers[ ${longString(name)} ] = ${longString(value)}`,
    ),
    "done = function(summary, latency, requests)",
    "  local e = summary.errors",
    '  io.write(string.format(\'{"requests":%d,"durationMicros":%d,"statusErrors":%d,"socketErrors":%d,"p50":%d,"p99":%d,"p999":%d}\\n\',',
    "    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,",
    "    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))",
    "end",
  ].join("\n")

const runWrk = async (request: HttpRequest, connections: number, seconds: number) => {
  const folder = mkdtempSync(join(tmpdir(), "bench-wrk-"))
  try {
    const file = join(folder, "request.lua")
    writeFileSync(file, script(request))
    const { stdout } = await promisify(execFile)("wrk", [
      "-t1",
      `-c${connections}`,
      `-d${Math.max(1, Math.round(seconds))}s`,
      "-s",
      file,
      request.url,
    ])
    const last = stdout.trim().split("\n").at(-1) ?? ""
    return decode(last)
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

/** HTTP/1.1 keep-alive connections from wrk's one thread; a body must be text. */
export const http1 = async (request: HttpRequest, shape: Shape): Promise<Figures> => {
  if (request.expectStatus !== undefined) throw new Error("wrk counts only non-2xx/3xx answers as failures")
  if (shape.warmup > 0) await runWrk(request, shape.connections, shape.warmup)
  const summary = await runWrk(request, shape.connections, shape.duration)
  return {
    rps: summary.requests / (summary.durationMicros / 1e6),
    p50: summary.p50,
    p99: summary.p99,
    p999: summary.p999,
    failures: summary.statusErrors + summary.socketErrors,
    total: summary.requests,
  }
}
