import * as http from "node:http"
import * as http2 from "node:http2"
import autocannon from "autocannon"
import * as hdr from "hdr-histogram-js"

/**
 * The load: closed loops over loopback for a fixed time, latencies in microseconds. HTTP/1.1
 * through autocannon (its own histogram counts whole milliseconds, so every response's time is
 * recorded here instead); gRPC, which needs HTTP/2, through a small driver on `node:http2` with
 * many streams per connection, as gRPC clients multiplex.
 */
export interface Figures {
  readonly rps: number
  /** Microseconds. */
  readonly p50: number
  readonly p99: number
  readonly p999: number
  /** Answers that were not successes (non-2xx, a gRPC status other than 0) and failed requests. */
  readonly failures: number
  readonly total: number
}

/** Called around the measured part of a closed-loop run (after its warm-up): what else is read over it. */
export interface Around {
  readonly before: () => void
  /** `requests`: how many the measured part sent, answered or not. */
  readonly after: (requests: number) => void
}

export interface Shape {
  /** Seconds of measurement, after `warmup` seconds whose results are dropped. */
  readonly duration: number
  readonly warmup: number
  readonly connections: number
  readonly around?: Around | undefined
}

export interface HttpRequest {
  readonly url: string
  readonly method: "GET" | "POST"
  readonly headers: Record<string, string>
  readonly body?: string | Buffer
  /** The status a success answers with (2xx when unset): 503 for a breaker's fast failure. */
  readonly expectStatus?: number
}

const histogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })

const figures = (latencies: hdr.Histogram, total: number, failures: number, seconds: number): Figures => ({
  rps: total / seconds,
  p50: latencies.getValueAtPercentile(50),
  p99: latencies.getValueAtPercentile(99),
  p999: latencies.getValueAtPercentile(99.9),
  failures,
  total,
})

const autocannonRun = (request: HttpRequest, connections: number, seconds: number, latencies?: hdr.Histogram) =>
  new Promise<{ total: number; failures: number; seconds: number }>((resolve, reject) => {
    let total = 0
    let failures = 0
    const started = process.hrtime.bigint()
    const instance = autocannon(
      {
        url: request.url,
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        connections,
        pipelining: 1,
        duration: seconds,
      },
      (error, result) => {
        if (error) return reject(error)
        failures += result.errors
        resolve({ total, failures, seconds: Number(process.hrtime.bigint() - started) / 1e9 })
      },
    )
    const succeeded = (status: number) =>
      request.expectStatus === undefined ? status >= 200 && status < 300 : status === request.expectStatus
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      total += 1
      if (!succeeded(statusCode)) failures += 1
      else latencies?.recordValue(Math.max(1, Math.round(responseTime * 1000)))
    })
  })

/** HTTP/1.1 keep-alive connections, one request in flight on each. */
export const http1 = async (request: HttpRequest, shape: Shape): Promise<Figures> => {
  if (shape.warmup > 0) await autocannonRun(request, shape.connections, shape.warmup)
  const latencies = histogram()
  shape.around?.before()
  const run = await autocannonRun(request, shape.connections, shape.duration, latencies)
  shape.around?.after(run.total)
  return figures(latencies, run.total, run.failures, run.seconds)
}

export interface GrpcRequest {
  readonly base: string
  /** `/<package>.<Service>/<Method>` */
  readonly path: string
  readonly headers: Record<string, string>
  /** The serialized request message (the driver frames it). */
  readonly message: Uint8Array
}

/** One gRPC message on the wire: a flag byte, a 4-byte length, the message. */
const frame = (message: Uint8Array) => {
  const framed = Buffer.alloc(5 + message.byteLength)
  framed.writeUInt32BE(message.byteLength, 1)
  framed.set(message, 5)
  return framed
}

/** Streams in flight per HTTP/2 connection. */
const STREAMS_PER_CONNECTION = 8

const grpcRun = (request: GrpcRequest, connections: number, seconds: number, latencies?: hdr.Histogram) =>
  new Promise<{ total: number; failures: number; seconds: number }>((resolve) => {
    const body = frame(request.message)
    const sessions = Math.max(1, Math.ceil(connections / STREAMS_PER_CONNECTION))
    const started = process.hrtime.bigint()
    const deadline = started + BigInt(Math.round(seconds * 1e9))
    let total = 0
    let failures = 0
    let running = 0
    const open: Array<http2.ClientHttp2Session> = []
    const finish = () => {
      running -= 1
      if (running > 0) return
      for (const session of open) session.close()
      resolve({ total, failures, seconds: Number(process.hrtime.bigint() - started) / 1e9 })
    }
    const loop = (session: http2.ClientHttp2Session) => {
      if (process.hrtime.bigint() >= deadline || session.destroyed) return finish()
      const sent = process.hrtime.bigint()
      const stream = session.request({
        ":method": "POST",
        ":path": request.path,
        "content-type": "application/grpc+proto",
        te: "trailers",
        ...request.headers,
      })
      let status: string | undefined
      stream.on("response", (headers) => {
        // A failure before any message comes as a trailers-only response: status in the headers.
        if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"])
      })
      stream.on("trailers", (trailers) => {
        status = String(trailers["grpc-status"])
      })
      stream.on("data", () => {})
      stream.on("error", () => {})
      stream.on("close", () => {
        total += 1
        if (status === "0") latencies?.recordValue(Math.max(1, Number((process.hrtime.bigint() - sent) / 1000n)))
        else failures += 1
        loop(session)
      })
      stream.end(body)
    }
    for (let s = 0; s < sessions; s++) {
      const session = http2.connect(request.base)
      session.on("error", () => {})
      open.push(session)
      const streams = Math.min(STREAMS_PER_CONNECTION, connections - s * STREAMS_PER_CONNECTION)
      for (let i = 0; i < streams; i++) {
        running += 1
        loop(session)
      }
    }
  })

/** gRPC over h2c: `connections` streams in flight, eight to an HTTP/2 connection. */
export const grpc = async (request: GrpcRequest, shape: Shape): Promise<Figures> => {
  if (shape.warmup > 0) await grpcRun(request, shape.connections, shape.warmup)
  const latencies = histogram()
  shape.around?.before()
  const run = await grpcRun(request, shape.connections, shape.duration, latencies)
  shape.around?.after(run.total)
  return figures(latencies, run.total, run.failures, run.seconds)
}

/** What an open-loop run at a fixed rate measured: latencies in microseconds from each request's slot. */
export interface RateFigures {
  readonly rate: number
  readonly sent: number
  readonly failures: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  /** Answers later than 10 ms after their slot. */
  readonly late: number
  /** How far behind its schedule the driver itself fell at worst, in microseconds. */
  readonly driverLag: number
}

/**
 * An open loop over HTTP/1.1 keep-alive: a request leaves every `1 / rate` seconds whether or not
 * the earlier ones were answered, and each latency counts from the moment its request was due,
 * not from when it left, so a stall is charged to every request it delayed (no coordinated
 * omission: a closed loop would send fewer requests while the server stalls, and hide it).
 */
export const fixedRate = async (request: HttpRequest, rate: number, shape: Pick<Shape, "duration" | "warmup">) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })
  const target = new URL(request.url)
  const body = request.body === undefined ? undefined : Buffer.from(request.body)
  const succeeded = (status: number) =>
    request.expectStatus === undefined ? status >= 200 && status < 300 : status === request.expectStatus
  const one = (due: bigint, done: (ok: boolean, micros: number) => void) => {
    const outgoing = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: request.method,
        headers: { ...request.headers, ...(body === undefined ? {} : { "content-length": body.byteLength }) },
      },
      (response) => {
        response.on("data", () => {})
        response.on("end", () =>
          done(succeeded(response.statusCode ?? 0), Number((process.hrtime.bigint() - due) / 1000n)),
        )
      },
    )
    outgoing.setTimeout(30_000, () => outgoing.destroy(new Error("no answer in 30 s")))
    outgoing.on("error", () => done(false, Number((process.hrtime.bigint() - due) / 1000n)))
    outgoing.end(body)
  }
  const phase = (seconds: number) =>
    new Promise<{ latencies: hdr.Histogram; sent: number; failures: number; late: number; lag: number }>((resolve) => {
      const latencies = histogram()
      const interval = 1e9 / rate
      const count = Math.round(seconds * rate)
      const start = process.hrtime.bigint()
      const dueOf = (request: number) => start + BigInt(Math.round(request * interval))
      let sent = 0
      let answered = 0
      let failures = 0
      let late = 0
      let lag = 0
      const tick = () => {
        const now = process.hrtime.bigint()
        while (sent < count) {
          const due = dueOf(sent)
          if (due > now) break
          lag = Math.max(lag, Number((now - due) / 1000n))
          sent += 1
          one(due, (ok, micros) => {
            answered += 1
            if (!ok) failures += 1
            else latencies.recordValue(Math.max(1, micros))
            if (micros > 10_000) late += 1
            if (answered === count) resolve({ latencies, sent, failures, late, lag })
          })
        }
        // A timer, not a spin: the driver shares the cores with what it measures; a request that
        // leaves a little after its slot is still timed from the slot.
        if (sent < count) setTimeout(tick, Math.max(0, Number(dueOf(sent) - now) / 1e6))
      }
      tick()
    })
  if (shape.warmup > 0) await phase(shape.warmup)
  const run = await phase(shape.duration)
  agent.destroy()
  return {
    rate,
    sent: run.sent,
    failures: run.failures,
    p50: run.latencies.getValueAtPercentile(50),
    p90: run.latencies.getValueAtPercentile(90),
    p99: run.latencies.getValueAtPercentile(99),
    max: run.latencies.maxValue,
    late: run.late,
    driverLag: run.lag,
  } satisfies RateFigures
}
