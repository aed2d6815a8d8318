import * as AuthApp from "@platform/auth/App"
import * as CallerApp from "@platform/caller/App"
import * as EdgeApp from "@platform/edge/App"
import * as GatewayApp from "@platform/gateway/App"
import * as GreeterApp from "@platform/greeter/App"
import * as LangApp from "@platform/lang/App"
import * as ExternalStub from "@platform/platform/ExternalStub"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { type Context, Effect } from "effect"

/**
 * The whole platform in the test's process: every service on its own loopback port with its own
 * fresh database and its own metrics registry, wired as `pnpm start` wires them, so requests
 * cross real HTTP between them. `around` is given to every service (a shared span recorder).
 */
export type Name = "lang" | "auth" | "caller" | "greeter" | "gateway" | "edge"

export interface Platform {
  readonly url: Readonly<Record<Name, string>>
  /** Each service's `DATABASE_URL`. */
  readonly databases: Readonly<Record<Exclude<Name, "edge">, string>>
  readonly stub: ExternalStub.ExternalStub
}

const database = (name: string) => Effect.map(TestDatabase.freshDatabase(`platform_${name}`), (url) => url.href)

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
    const run = <E>(app: TestServer.ServiceApp<E>, env: Record<string, string>) =>
      TestServer.serve(app, env, { around, log: options.log })
    const databases = {
      lang: yield* database("lang"),
      auth: yield* database("auth"),
      caller: yield* database("caller"),
      greeter: yield* database("greeter"),
      gateway: yield* database("gateway"),
    }
    const [lang, auth, caller] = yield* Effect.all(
      [
        run(LangApp, { DATABASE_URL: databases.lang, ...env("lang") }),
        run(AuthApp, { DATABASE_URL: databases.auth, ...env("auth") }),
        // The stand-in external API is on loopback.
        run(CallerApp, { DATABASE_URL: databases.caller, CALLER_ALLOW_PRIVATE_NETWORKS: "true", ...env("caller") }),
      ],
      { concurrency: "unbounded" },
    )
    const [greeter, gateway] = yield* Effect.all(
      [
        run(GreeterApp, {
          DATABASE_URL: databases.greeter,
          CALLER_BASE_URL: caller,
          EXTERNAL_API_URL: stub.url,
          ...env("greeter"),
        }),
        run(GatewayApp, {
          DATABASE_URL: databases.gateway,
          CUSTOM_LANG_BASE_URL: lang,
          ...env("gateway"),
        }),
      ],
      { concurrency: "unbounded" },
    )
    const edge = yield* run(EdgeApp, {
      EDGE_GREETER_URL: greeter,
      EDGE_GATEWAY_URL: gateway,
      EDGE_AUTH_URL: auth,
      ...env("edge"),
    })
    return { url: { lang, auth, caller, greeter, gateway, edge }, databases, stub } satisfies Platform
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
