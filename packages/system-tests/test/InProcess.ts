import * as AuthApp from "@platform/auth/App"
import * as CallerApp from "@platform/caller/App"
import * as EdgeApp from "@platform/edge/App"
import * as GatewayApp from "@platform/gateway/App"
import * as GreeterApp from "@platform/greeter/App"
import * as LangApp from "@platform/lang/App"
import * as Logging from "@platform/shared/Logging"
import type * as Metrics from "@platform/shared/Metrics"
import * as Server from "@platform/shared/Server"
import type { ServiceConfig } from "@platform/shared/ServiceConfig"
import * as Testing from "@platform/shared/Testing"
import * as ExternalStub from "@platform/shared/testing/ExternalStub"
import { type Context, Effect, Layer } from "effect"

/**
 * The whole platform in the test's process: every service on its own loopback port with its own
 * fresh database and its own metrics registry, wired as `pnpm start` wires them, so requests
 * cross real HTTP between them. `around` is given to every service (a shared span recorder).
 */
export type Name = "lang" | "auth" | "caller" | "greeter" | "gateway" | "edge"

export interface Platform {
  readonly url: Readonly<Record<Name, string>>
  readonly stub: ExternalStub.ExternalStub
}

type App<E> = (server: typeof Server.layerTest) => Layer.Layer<Server.Services, E, ServiceConfig | Metrics.ScrapeHooks>

const serve = <E>(
  defaults: { readonly name: string; readonly port: number },
  app: App<E>,
  env: Record<string, string>,
  around: Context.Context<never>,
  log: ((line: string) => void) | undefined,
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      app(Server.layerTest).pipe(
        Layer.provide(log === undefined ? Logging.layer : Logging.layerWriting(log)),
        Layer.provide(Layer.succeedContext(around)),
        Layer.provideMerge(Testing.config(defaults, { LOG_LEVEL: "error", ...env })),
      ),
    )
    return yield* Testing.baseUrl.pipe(Effect.provide(context))
  })

const database = (name: string) => Effect.map(Testing.freshDatabase(`platform_${name}`), (url) => url.href)

export const start = (
  options: {
    readonly env?: Partial<Record<Name, Record<string, string>>>
    readonly around?: Context.Context<never>
    /** Where the services' JSON log lines go (stdout by default). */
    readonly log?: (line: string) => void
  } = {},
) =>
  Effect.gen(function* () {
    const around = options.around ?? (yield* Effect.context<never>())
    const env = (name: Name) => options.env?.[name] ?? {}
    const stub = yield* Effect.acquireRelease(
      Effect.promise(() => ExternalStub.start()),
      (s) => Effect.promise(s.close),
    )
    const run = <E>(
      defaults: { readonly name: string; readonly port: number },
      app: App<E>,
      env: Record<string, string>,
    ) => serve(defaults, app, env, around, options.log)
    const [lang, auth, caller] = yield* Effect.all(
      [
        run(LangApp.defaults, LangApp.layer, { DATABASE_URL: yield* database("lang"), ...env("lang") }),
        run(AuthApp.defaults, AuthApp.layer, { DATABASE_URL: yield* database("auth"), ...env("auth") }),
        run(CallerApp.defaults, CallerApp.layer, { DATABASE_URL: yield* database("caller"), ...env("caller") }),
      ],
      { concurrency: "unbounded" },
    )
    const [greeter, gateway] = yield* Effect.all(
      [
        run(GreeterApp.defaults, GreeterApp.layer, {
          DATABASE_URL: yield* database("greeter"),
          CALLER_BASE_URL: caller,
          EXTERNAL_API_URL: stub.url,
          ...env("greeter"),
        }),
        run(GatewayApp.defaults, GatewayApp.layer, {
          DATABASE_URL: yield* database("gateway"),
          CUSTOM_LANG_BASE_URL: lang,
          ...env("gateway"),
        }),
      ],
      { concurrency: "unbounded" },
    )
    const edge = yield* run(EdgeApp.defaults, EdgeApp.layer, {
      EDGE_GREETER_URL: greeter,
      EDGE_GATEWAY_URL: gateway,
      EDGE_AUTH_URL: auth,
      ...env("edge"),
    })
    return { url: { lang, auth, caller, greeter, gateway, edge }, stub } satisfies Platform
  })

/** Registers a user through the edge and logs in: the bearer token for the Connect routes. */
export const signIn = (edge: string, email: string) =>
  Effect.promise(async () => {
    const credentials = { email, password: "correct horse battery" }
    for (const path of ["/auth/register", "/auth/login"]) {
      const response = await fetch(`${edge}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(credentials),
      })
      if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`)
      if (path === "/auth/login") return ((await response.json()) as { token: string }).token
    }
    throw new Error("unreachable")
  })

/** One unary Connect call with a JSON body, as a browser sends it. */
export const connectCall = (url: string, token: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify(body),
    })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  })
