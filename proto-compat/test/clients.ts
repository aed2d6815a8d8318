import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { DescMethodUnary, DescService } from "@bufbuild/protobuf"
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect"
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { CallerService } from "../gen/caller/v1/caller_pb.ts"
import { GreeterService } from "../gen/greeter/v1/greeter_pb.ts"

/**
 * The clients of the compatibility suite, none of them ours: connect-node's generated clients
 * on all four protocols, grpc-js loading the .proto files itself, buf curl, and the plain
 * fetch a browser makes. Each answers the same shape so one table of cases can run on all.
 */

export type Answer =
  | { readonly ok: true; readonly message: Record<string, unknown> }
  | { readonly ok: false; readonly code: string; readonly message: string }

export interface Call {
  readonly service: "greeter.v1.GreeterService" | "caller.v1.CallerService"
  readonly method: "Greet" | "CallExternal"
  readonly request: Record<string, unknown>
  /** The client's own deadline for the call. */
  readonly timeoutMs?: number
}

export interface Client {
  readonly name: string
  readonly call: (baseUrl: string, call: Call) => Promise<Answer>
}

export const protoDir = fileURLToPath(new URL("../proto", import.meta.url))
const buf = fileURLToPath(new URL("../node_modules/.bin/buf", import.meta.url))

const codeName = (code: Code) =>
  Code[code].replace(/[A-Z]/g, (c, i) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`))

const descriptors: Record<Call["service"], DescService> = {
  "greeter.v1.GreeterService": GreeterService,
  "caller.v1.CallerService": CallerService,
}

/** JSON field names of the responses, whichever client decoded them. */
const normalize = (value: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith("$")))

const connectNode = (name: string, transport: (baseUrl: string) => Transport): Client => {
  const transports = new Map<string, Transport>()
  return {
    name,
    call: async (baseUrl, call) => {
      const key = baseUrl
      if (!transports.has(key)) transports.set(key, transport(baseUrl))
      const service = descriptors[call.service]
      const client = createClient(service, transports.get(key) as Transport) as unknown as Record<
        string,
        (request: unknown, options?: { timeoutMs?: number }) => Promise<Record<string, unknown>>
      >
      const method = call.method === "Greet" ? "greet" : "callExternal"
      try {
        const response = await (
          client[method] as (r: unknown, o?: { timeoutMs?: number }) => Promise<Record<string, unknown>>
        )(call.request, call.timeoutMs === undefined ? {} : { timeoutMs: call.timeoutMs })
        return { ok: true, message: normalize({ ...response }) }
      } catch (error) {
        const connectError = ConnectError.from(error)
        return { ok: false, code: codeName(connectError.code), message: connectError.rawMessage }
      }
    },
  }
}

/** connect-node calling a method the server does not have (same transport, another name). */
export const unknownMethod = async (baseUrl: string, protocol: "connect" | "grpc" | "grpcweb"): Promise<Answer> => {
  const transport =
    protocol === "connect"
      ? createConnectTransport({ baseUrl, httpVersion: "1.1" })
      : protocol === "grpc"
        ? createGrpcTransport({ baseUrl })
        : createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })
  const greet = GreeterService.method.greet as DescMethodUnary
  const nope = { ...greet, name: "Nope", localName: "nope" } as DescMethodUnary
  try {
    await transport.unary(nope, undefined, undefined, undefined, { name: "x" }, undefined)
    return { ok: true, message: {} }
  } catch (error) {
    const connectError = ConnectError.from(error)
    return { ok: false, code: codeName(connectError.code), message: connectError.rawMessage }
  }
}

const grpcCodeNames = Object.fromEntries(
  Object.entries(grpc.status).map(([name, value]) => [value, name.toLowerCase()]),
) as Record<number, string>

const loaded = protoLoader.loadSync(["greeter/v1/greeter.proto", "caller/v1/caller.proto"], {
  includeDirs: [protoDir],
  defaults: true,
})
const packageObject = grpc.loadPackageDefinition(loaded) as unknown as {
  greeter: { v1: { GreeterService: grpc.ServiceClientConstructor } }
  caller: { v1: { CallerService: grpc.ServiceClientConstructor } }
}

const grpcJs: Client = {
  name: "grpc-js + proto-loader (gRPC, h2c)",
  call: (baseUrl, call) =>
    new Promise((resolve) => {
      const ServiceClient =
        call.service === "greeter.v1.GreeterService"
          ? packageObject.greeter.v1.GreeterService
          : packageObject.caller.v1.CallerService
      const client = new ServiceClient(new URL(baseUrl).host, grpc.credentials.createInsecure())
      const deadline = call.timeoutMs === undefined ? Infinity : Date.now() + call.timeoutMs
      const method = client[call.method] as (
        request: unknown,
        options: grpc.CallOptions,
        callback: (error: grpc.ServiceError | null, response: Record<string, unknown>) => void,
      ) => void
      method.call(client, call.request, { deadline }, (error, response) => {
        client.close()
        if (error) resolve({ ok: false, code: grpcCodeNames[error.code] ?? "unknown", message: error.details })
        else resolve({ ok: true, message: normalize(camelCase(response)) })
      })
    }),
}

const camelCase = (value: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(value).map(([key, v]) => [key.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]))

/** grpc-js on an unknown method: a generic client with a path of its own. */
export const grpcUnknownMethod = (baseUrl: string): Promise<Answer> =>
  new Promise((resolve) => {
    const client = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure())
    const identity = (value: Buffer) => value
    client.makeUnaryRequest(
      "/greeter.v1.GreeterService/Nope",
      identity,
      identity,
      Buffer.alloc(0),
      (error: grpc.ServiceError | null) => {
        client.close()
        resolve(
          error
            ? { ok: false, code: grpcCodeNames[error.code] ?? "unknown", message: error.details }
            : { ok: true, message: {} },
        )
      },
    )
  })

const bufCurl = (protocol: "connect" | "grpc" | "grpcweb"): Client => ({
  name: `buf curl --protocol ${protocol}`,
  call: async (baseUrl, call) => {
    const args = ["curl", "--schema", protoDir, "--protocol", protocol, "--data", JSON.stringify(call.request)]
    if (protocol === "grpc") args.push("--http2-prior-knowledge")
    if (call.timeoutMs !== undefined) args.push("--timeout", `${call.timeoutMs}ms`)
    args.push(`${baseUrl}/${call.service}/${call.method}`)
    try {
      const { stdout } = await promisify(execFile)(buf, args, { timeout: 30_000 })
      return { ok: true, message: normalize(JSON.parse(stdout) as Record<string, unknown>) }
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? "")
      const start = stderr.indexOf("{")
      const parsed =
        start >= 0 ? (JSON.parse(stderr.slice(start)) as { code?: string; message?: string }) : { message: stderr }
      return { ok: false, code: parsed.code ?? "unknown", message: parsed.message ?? stderr }
    }
  },
})

const fetchConnectJson: Client = {
  name: "fetch with a Connect JSON body (what a browser sends)",
  call: async (baseUrl, call) => {
    const response = await fetch(`${baseUrl}/${call.service}/${call.method}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        ...(call.timeoutMs === undefined ? {} : { "connect-timeout-ms": String(call.timeoutMs) }),
      },
      body: JSON.stringify(call.request),
    })
    const body = (await response.json()) as Record<string, unknown>
    return response.ok
      ? { ok: true, message: body }
      : { ok: false, code: String(body.code), message: String(body.message ?? "") }
  },
}

export const clients: ReadonlyArray<Client> = [
  connectNode("connect-node, Connect JSON over HTTP/1.1", (baseUrl) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  ),
  connectNode("connect-node, Connect binary over HTTP/1.1", (baseUrl) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  ),
  connectNode("connect-node, Connect binary over h2c", (baseUrl) =>
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  ),
  connectNode("connect-node, gRPC over h2c", (baseUrl) => createGrpcTransport({ baseUrl })),
  connectNode("connect-node, gRPC-Web over HTTP/1.1", (baseUrl) =>
    createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  ),
  grpcJs,
  bufCurl("connect"),
  bufCurl("grpc"),
  bufCurl("grpcweb"),
  fetchConnectJson,
]
