import { AuthApi } from "@platform/contracts/AuthApi"
import {
  type ApiAnswer,
  type ApiCall,
  type ApiCatalog,
  DashboardApi,
  type ServiceMap,
  type TraceDetail,
  type TraceList,
} from "@platform/contracts/DashboardApi"
import { GatewayApi, type ResilienceSnapshot } from "@platform/contracts/GatewayApi"
import { Cause, Effect, Exit } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import type { Tokens } from "../Session.ts"

/**
 * The console's REST calls, through clients derived from the services' own HttpApi contracts
 * (auth's accounts, gateway's `/resilience`): no request is built and no JSON read by hand.
 * They run here, at the edge between Effect and React: a failure rejects with the typed error
 * (`InvalidCredentials`, `EmailTaken`, a network error...), which `ErrorMessage.describe` words.
 */
export interface Api {
  readonly register: (email: string, password: string) => Promise<void>
  readonly login: (email: string, password: string) => Promise<Tokens>
  /** A new access token for the session in the refresh cookie (which only the browser holds). */
  readonly refresh: () => Promise<{ readonly token: string }>
  /** Ends the cookie's session, its access tokens included, and clears the cookie. */
  readonly logout: () => Promise<void>
  /** The gateway's breaker and budget, through the edge (which asks auth first). */
  readonly resilience: (accessToken: string) => Promise<ResilienceSnapshot>
  /** `./platform start`'s dashboard, through the edge: the services map and recent traces. */
  readonly services: (accessToken: string) => Promise<ServiceMap>
  readonly traces: (accessToken: string) => Promise<TraceList>
  readonly trace: (accessToken: string, traceId: string) => Promise<TraceDetail>
  /** The services' REST endpoints, and a request sent to one of them on the console's behalf. */
  readonly apis: (accessToken: string) => Promise<ApiCatalog>
  readonly call: (accessToken: string, request: ApiCall) => Promise<ApiAnswer>
}

/** Runs an Effect for React: its value, or a rejection with its typed failure. */
const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) =>
    Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause)),
  )

/** Asks auth to keep the refresh token in its HttpOnly cookie, never in a body a script reads. */
const browser = { "x-refresh-cookie": "1" } as const

export const makeApi = (baseUrl: string): Api => {
  const auth = HttpApiClient.make(AuthApi, { baseUrl }).pipe(Effect.provide(FetchHttpClient.layer))
  const gateway = (accessToken: string) =>
    HttpApiClient.make(GatewayApi, {
      baseUrl,
      transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(accessToken)),
    }).pipe(Effect.provide(FetchHttpClient.layer))

  const dashboard = (accessToken: string) =>
    HttpApiClient.make(DashboardApi, {
      baseUrl,
      transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(accessToken)),
    }).pipe(Effect.provide(FetchHttpClient.layer))

  return {
    register: (email, password) =>
      run(
        Effect.flatMap(auth, (client) => client.accounts.register({ payload: { email, password } })).pipe(
          Effect.asVoid,
        ),
      ),
    login: (email, password) =>
      run(
        Effect.flatMap(auth, (client) =>
          client.accounts.login({ payload: { email, password }, headers: browser }),
        ).pipe(Effect.map((session) => ({ email, token: session.token }))),
      ),
    refresh: () =>
      run(
        Effect.flatMap(auth, (client) => client.accounts.refresh({ payload: {}, headers: browser })).pipe(
          // A reload waits for this before drawing anything: never for long.
          Effect.timeout("5 seconds"),
        ),
      ),
    logout: () =>
      run(
        Effect.flatMap(auth, (client) => client.accounts.logout({ payload: {}, headers: browser })).pipe(Effect.asVoid),
      ),
    resilience: (accessToken) => run(Effect.flatMap(gateway(accessToken), (client) => client.resilience.snapshot())),
    services: (accessToken) => run(Effect.flatMap(dashboard(accessToken), (client) => client.dashboard.services())),
    traces: (accessToken) => run(Effect.flatMap(dashboard(accessToken), (client) => client.dashboard.traces())),
    trace: (accessToken, traceId) =>
      run(Effect.flatMap(dashboard(accessToken), (client) => client.dashboard.trace({ params: { traceId } }))),
    apis: (accessToken) => run(Effect.flatMap(dashboard(accessToken), (client) => client.dashboard.apis())),
    call: (accessToken, request) =>
      run(Effect.flatMap(dashboard(accessToken), (client) => client.dashboard.call({ payload: request }))),
  }
}
