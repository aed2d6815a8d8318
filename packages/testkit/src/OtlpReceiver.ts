import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { Effect } from "effect"
import protobuf from "protobufjs"

/**
 * An OpenTelemetry collector for tests, on loopback: OTLP over gRPC (`grpc`) and over HTTP
 * (`http/protobuf` and `http/json` on `/v1/traces`, `/v1/metrics`, `/v1/logs`), keeping every
 * span, metric and log record it receives with the service (`service.name`) that sent it.
 */
export interface Span {
  readonly service: string
  readonly traceId: string
  readonly spanId: string
  /** Empty for a root span. */
  readonly parentSpanId: string
  readonly name: string
  readonly kind: number
  readonly attributes: Readonly<Record<string, unknown>>
  readonly events: ReadonlyArray<string>
}

export interface MetricSeen {
  readonly service: string
  readonly name: string
}

export interface LogSeen {
  readonly service: string
  readonly body: string
  readonly traceId: string
}

export interface Received {
  readonly spans: Array<Span>
  readonly metrics: Array<MetricSeen>
  readonly logs: Array<LogSeen>
  /** How each export arrived: `grpc`, `http/protobuf` or `http/json`. */
  readonly protocols: Set<string>
}

export interface Receiver extends Received {
  /** `http://127.0.0.1:<port>` of the gRPC server. */
  readonly grpcUrl: string
  /** `http://127.0.0.1:<port>` of the HTTP server (the signal's path is appended by exporters). */
  readonly httpUrl: string
}

const protoDir = fileURLToPath(new URL("../otlp/", import.meta.url))
const files = ["trace_service.proto", "metrics_service.proto", "logs_service.proto"].map((file) => `${protoDir}${file}`)

const hex = (bytes: unknown): string => {
  if (bytes === undefined || bytes === null) return ""
  if (typeof bytes === "string") return bytes
  return Buffer.from(bytes as Uint8Array).toString("hex")
}

// biome-ignore lint/suspicious/noExplicitAny: a decoded OTLP request, read field by field as the specification names them
type Json = Record<string, any>

/** An AnyValue (protobufjs or OTLP JSON, both camelCase here) as a plain value. */
const value = (any: Json | undefined): unknown => {
  if (any === undefined || any === null) return undefined
  if ("stringValue" in any) return any.stringValue
  if ("boolValue" in any) return any.boolValue
  if ("intValue" in any) return Number(any.intValue)
  if ("doubleValue" in any) return any.doubleValue
  return undefined
}

const attributes = (list: ReadonlyArray<Json> | undefined) =>
  Object.fromEntries((list ?? []).map((pair) => [pair.key as string, value(pair.value)]))

const serviceOf = (resource: Json | undefined) => String(attributes(resource?.attributes)["service.name"] ?? "")

/** One export request, decoded to camelCase objects (protobufjs) or parsed (OTLP JSON), into `into`. */
const collect = (into: Received, signal: "traces" | "metrics" | "logs", request: Json) => {
  if (signal === "traces") {
    for (const resourceSpans of request.resourceSpans ?? []) {
      const service = serviceOf(resourceSpans.resource)
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          into.spans.push({
            service,
            traceId: hex(span.traceId),
            spanId: hex(span.spanId),
            parentSpanId: hex(span.parentSpanId),
            name: span.name,
            kind: Number(span.kind ?? 0),
            attributes: attributes(span.attributes),
            events: (span.events ?? []).map((event: Json) => String(event.name)),
          })
        }
      }
    }
  } else if (signal === "metrics") {
    for (const resourceMetrics of request.resourceMetrics ?? []) {
      const service = serviceOf(resourceMetrics.resource)
      for (const scope of resourceMetrics.scopeMetrics ?? []) {
        for (const metric of scope.metrics ?? []) into.metrics.push({ service, name: metric.name })
      }
    }
  } else {
    for (const resourceLogs of request.resourceLogs ?? []) {
      const service = serviceOf(resourceLogs.resource)
      for (const scope of resourceLogs.scopeLogs ?? []) {
        for (const record of scope.logRecords ?? []) {
          into.logs.push({ service, body: String(value(record.body) ?? ""), traceId: hex(record.traceId) })
        }
      }
    }
  }
}

const requestTypes = {
  traces: "testkit.otlp.ExportTraceServiceRequest",
  metrics: "testkit.otlp.ExportMetricsServiceRequest",
  logs: "testkit.otlp.ExportLogsServiceRequest",
} as const

/** Starts both servers for the enclosing scope. */
export const start: Effect.Effect<Receiver, never, import("effect").Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const received: Received = { spans: [], metrics: [], logs: [], protocols: new Set() }
    const root = protobuf.loadSync(files)

    // gRPC, as a collector on 4317 serves it.
    const definition = protoLoader.loadSync(files, { includeDirs: [protoDir], longs: String, keepCase: false })
    // biome-ignore lint/suspicious/noExplicitAny: proto-loader's services are typed by the .proto at run time
    const loaded = grpc.loadPackageDefinition(definition) as any
    const server = new grpc.Server()
    const collector = loaded.opentelemetry.proto.collector
    for (const [signal, service] of [
      ["traces", collector.trace.v1.TraceService],
      ["metrics", collector.metrics.v1.MetricsService],
      ["logs", collector.logs.v1.LogsService],
    ] as const) {
      server.addService(service.service, {
        Export: (call: { request: Json }, callback: (error: null, response: object) => void) => {
          received.protocols.add("grpc")
          collect(received, signal, call.request)
          callback(null, {})
        },
      })
    }
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    )

    // OTLP/HTTP, as a collector on 4318 serves it: protobuf or JSON by content type.
    const httpServer = http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const signal = ({ "/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs" } as const)[
          request.url as "/v1/traces"
        ]
        if (signal === undefined) return response.writeHead(404).end()
        const body = Buffer.concat(chunks)
        const json = (request.headers["content-type"] ?? "").includes("json")
        received.protocols.add(json ? "http/json" : "http/protobuf")
        const decoded = json
          ? (JSON.parse(body.toString("utf8")) as Json)
          : (root.lookupType(requestTypes[signal]).toObject(root.lookupType(requestTypes[signal]).decode(body), {
              longs: String,
            }) as Json)
        collect(received, signal, decoded)
        response.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" })
        response.end(json ? "{}" : Buffer.alloc(0))
      })
    })
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve))
    return {
      receiver: {
        ...received,
        grpcUrl: `http://127.0.0.1:${grpcPort}`,
        httpUrl: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`,
      } satisfies Receiver,
      close: async () => {
        httpServer.closeAllConnections()
        await new Promise<void>((resolve) => httpServer.close(() => resolve()))
        await new Promise<void>((resolve) => server.tryShutdown(() => resolve()))
      },
    }
  }),
  ({ close }) => Effect.promise(close),
).pipe(Effect.map(({ receiver }) => receiver))
