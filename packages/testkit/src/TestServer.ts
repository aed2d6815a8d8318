import * as Logging from "@platform/shared/Logging"
import * as Metrics from "@platform/shared/Metrics"
import * as Server from "@platform/shared/Server"
import { type Defaults, ServiceConfig } from "@platform/shared/ServiceConfig"
import { ConfigProvider, type Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"

/**
 * A service's `App` served in the test's process, on a loopback port of its own, as `main.ts`
 * serves it: the same layers, configured by a record instead of the environment, with a metrics
 * registry of its own (as it would have in a process of its own) and JSON logs at `error`.
 */
export interface ServiceApp<E = unknown> {
  readonly defaults: Defaults
  readonly layer: (
    server: typeof Server.layerTest,
  ) => Layer.Layer<Server.Services, E, ServiceConfig | Metrics.ScrapeHooks>
}

export interface Options {
  /** Where the JSON log lines go (stdout by default). */
  readonly log?: ((line: string) => void) | undefined
  /** Services every layer of the app can use (a shared span recorder, say). */
  readonly around?: Context.Context<never> | undefined
}

/**
 * The service's settings from a record, as if those were its environment variables. The
 * record is the configuration of everything the layer is provided to (the service's own
 * `Config` reads too), not only of the kernel's settings.
 */
export const config = (defaults: Defaults, env: Record<string, string>) =>
  ServiceConfig.layer(defaults).pipe(
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { LOG_LEVEL: "error", ...env } }))),
    Layer.merge(Metrics.layer),
  )

/** The app on its test server, with its configuration, as a layer (for `layer(...)` in a test file). */
export const layer = <E>(app: ServiceApp<E>, env: Record<string, string> = {}, options: Options = {}) => {
  const served = app
    .layer(Server.layerTest)
    .pipe(Layer.provide(options.log === undefined ? Logging.layer : Logging.layerWriting(options.log)))
  return (
    options.around === undefined ? served : served.pipe(Layer.provide(Layer.succeedContext(options.around)))
  ).pipe(Layer.provideMerge(config(app.defaults, env)))
}

/** `http://127.0.0.1:<port>` of the running test server. */
export const baseUrl = Effect.flatMap(HttpServer.HttpServer, (server) =>
  server.address._tag !== "UnixPathAddress"
    ? Effect.succeed(`http://127.0.0.1:${server.address.port}`)
    : Effect.die(new Error("the test server is not listening on TCP")),
)

/** Serves the app for the enclosing scope; its base URL. */
export const serve = <E>(app: ServiceApp<E>, env: Record<string, string> = {}, options: Options = {}) =>
  Effect.flatMap(Layer.build(layer(app, env, options)), (context) => Effect.provide(baseUrl, context))
