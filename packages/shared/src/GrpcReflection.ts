import { createRegistry, type DescFile, type DescService, type MessageInitShape, toBinary } from "@bufbuild/protobuf"
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt"
import type { ConnectRouter } from "@connectrpc/connect"
import { connectNodeAdapter } from "@connectrpc/connect-node"
import { Effect, type Layer } from "effect"
import { HttpRouter } from "effect/http"
import { mountAdapter } from "./Connect.ts"
import { Health } from "./gen/grpc/health/v1/health_pb.ts"
import * as v1 from "./gen/grpc/reflection/v1/reflection_pb.ts"
import * as v1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.ts"

/**
 * gRPC server reflection (`grpc.reflection.v1` and the `v1alpha` older clients still ask for),
 * so that grpcurl, `buf curl` and grpcui call a service without its `.proto` files, as they do
 * the original Go services (connect-go's grpcreflect). Connect-ES has no implementation of its
 * own (connectrpc/connect-es#507), so the kernel answers the protocol from the descriptors
 * protobuf-es already embeds in the generated code: the services, their files and every file
 * they import, the well-known types included.
 *
 * Bidirectional streaming: gRPC over HTTP/2 (h2c), which is what these tools speak.
 */
export const layer = (services: ReadonlyArray<DescService>): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      const listed = [...services, Health, v1.ServerReflection, v1alpha.ServerReflection]
      const respond = responder(listed)
      const adapter = connectNodeAdapter({
        // Their requests are a few names: nothing larger is read.
        readMaxBytes: 64 * 1024,
        routes: (connect: ConnectRouter) => {
          connect.service(v1.ServerReflection, {
            async *serverReflectionInfo(requests) {
              for await (const request of requests) {
                yield { validHost: request.host, originalRequest: request, messageResponse: respond(request) }
              }
            },
          })
          connect.service(v1alpha.ServerReflection, {
            async *serverReflectionInfo(requests) {
              // The two versions are the same messages under another package.
              for await (const request of requests) {
                yield { validHost: request.host, originalRequest: request, messageResponse: respond(request) as never }
              }
            },
          })
        },
      })
      yield* mountAdapter(router, v1.ServerReflection.typeName, adapter)
      yield* mountAdapter(router, v1alpha.ServerReflection.typeName, adapter)
    }),
  )

/** gRPC's codes, as the reflection protocol's error responses carry them. */
const NOT_FOUND = 5
const INVALID_ARGUMENT = 3

/** What both versions ask: the same fields under either package. */
type Request = Pick<v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest, "messageRequest">
type Answer = NonNullable<MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"]>

/** A file and everything it imports, each once: what a client needs to build the types. */
const withDependencies = (files: ReadonlyArray<DescFile>): Map<string, DescFile> => {
  const seen = new Map<string, DescFile>()
  const visit = (current: DescFile) => {
    if (seen.has(current.proto.name)) return
    seen.set(current.proto.name, current)
    for (const dependency of current.dependencies) visit(dependency)
  }
  for (const file of files) visit(file)
  return seen
}

const responder = (services: ReadonlyArray<DescService>) => {
  const byName = withDependencies(services.map((service) => service.file))
  const registry = createRegistry(...byName.values())
  const files = (file: DescFile): Answer => ({
    case: "fileDescriptorResponse",
    value: {
      fileDescriptorProto: [...withDependencies([file]).values()].map((each) =>
        toBinary(FileDescriptorProtoSchema, each.proto),
      ),
    },
  })
  const notFound = (what: string): Answer => ({
    case: "errorResponse",
    value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` },
  })

  /** The file that declares `symbol`: a service, a method, a message, an enum or an extension. */
  const fileOf = (symbol: string): DescFile | undefined => {
    const found = registry.get(symbol)
    if (found !== undefined) return found.file
    const dot = symbol.lastIndexOf(".")
    const service = dot < 0 ? undefined : registry.getService(symbol.slice(0, dot))
    return service?.methods.some((method) => method.name === symbol.slice(dot + 1)) ? service.file : undefined
  }

  const respond = (request: Request): Answer => {
    const asked = request.messageRequest
    switch (asked.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: { service: services.map((service) => ({ name: service.typeName })) },
        }
      case "fileByFilename": {
        const file = byName.get(asked.value)
        return file === undefined ? notFound(`file ${asked.value}`) : files(file)
      }
      case "fileContainingSymbol": {
        const file = fileOf(asked.value)
        return file === undefined ? notFound(`symbol ${asked.value}`) : files(file)
      }
      case "fileContainingExtension": {
        const extendee = registry.getMessage(asked.value.containingType)
        const extension =
          extendee === undefined ? undefined : registry.getExtensionFor(extendee, asked.value.extensionNumber)
        return extension === undefined
          ? notFound(`extension ${asked.value.extensionNumber} of ${asked.value.containingType}`)
          : files(extension.file)
      }
      case "allExtensionNumbersOfType": {
        const message = registry.getMessage(asked.value)
        if (message === undefined) return notFound(`type ${asked.value}`)
        const numbers: Array<number> = []
        for (const file of byName.values()) {
          for (const extension of file.extensions) {
            if (extension.extendee.typeName === message.typeName) numbers.push(extension.number)
          }
        }
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: message.typeName, extensionNumber: numbers },
        }
      }
      default:
        return { case: "errorResponse", value: { errorCode: INVALID_ARGUMENT, errorMessage: "empty request" } }
    }
  }

  return respond
}
