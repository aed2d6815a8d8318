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

export interface Shape {
  /** Seconds of measurement, after `warmup` seconds whose results are dropped. */
  readonly duration: number
  readonly warmup: number
  readonly connections: number
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
  const run = await autocannonRun(request, shape.connections, shape.duration, latencies)
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
  const run = await grpcRun(request, shape.connections, shape.duration, latencies)
  return figures(latencies, run.total, run.failures, run.seconds)
}
