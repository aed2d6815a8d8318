import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { Edge } from "./Edge.ts"
import { EdgeConfig } from "./EdgeConfig.ts"
import { EdgeRoutes } from "./Http.ts"

export const defaults = { name: "edge", port: 30081 } as const

/** The edge on the given HTTP server. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(EdgeRoutes).pipe(Layer.provideMerge(server), Layer.provide(Edge.layer), Layer.provide(EdgeConfig.layer))
