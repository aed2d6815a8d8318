// @vitest-environment jsdom
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect"
import { TransportProvider } from "@connectrpc/connect-query"
import { InvalidCredentials } from "@platform/contracts/AuthApi"
import type { ResilienceSnapshot } from "@platform/contracts/GatewayApi"
import { GatewayService } from "@platform/proto-compat/gateway/v1"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { QueryClient, QueryClientProvider } from "@tanstack/react-query"
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react"
import { afterEach, assert, describe, it } from "vitest"
import { App } from "../src/App.tsx"
import type { Api } from "../src/clients/Api.ts"
import { authInterceptor } from "../src/clients/Transport.ts"
import { PlatformContext } from "../src/Platform.tsx"
import { makeSession } from "../src/Session.ts"

afterEach(cleanup)

const snapshot = (state: "closed" | "half-open" | "open"): ResilienceSnapshot => ({
  breaker: {
    name: "custom-lang-service",
    state,
    counts: { requests: 0, totalSuccesses: 0, totalFailures: 0, consecutiveSuccesses: 0, consecutiveFailures: 0 },
    maxRequests: 3,
    intervalMs: 10_000,
    timeoutMs: 30_000,
    consecutiveFailuresToTrip: 5,
  },
  budget: { mode: "bucket", tokens: 19.5, capacity: 20, refillPerSecond: 10 },
})

const api = (overrides: Partial<Api> = {}): Api => ({
  register: async () => {},
  login: async (email) => ({ email, token: "access" }),
  refresh: async () => ({ token: "access-2" }),
  logout: async () => {},
  resilience: async () => snapshot("closed"),
  services: async () => ({ services: [], refreshedAt: 0, refreshEveryMs: 2000 }),
  traces: async () => ({ traces: [], capacity: { traces: 500, spans: 20_000 } }),
  trace: async () => Promise.reject(new Error("no trace")),
  apis: async () => ({ endpoints: [] }),
  call: async () => Promise.reject(new Error("no call")),
  ...overrides,
})

/** The console on in-memory greeter and gateway services, as the browser would reach them. */
const renderConsole = (
  options: {
    readonly api?: Api
    readonly signedIn?: boolean
    readonly greet?: (name: string) => Promise<{ message: string; externalStatus: number; externalBodyLength: number }>
    readonly invoke?: (name: string) => Promise<string>
  } = {},
) => {
  const platformApi = options.api ?? api()
  const session = makeSession({ refresh: platformApi.refresh })
  if (options.signedIn) session.signIn({ email: "ada@example.com", token: "access" })
  const transport = createRouterTransport(
    ({ service }) => {
      service(GreeterService, {
        greet: (request) =>
          (
            options.greet ??
            (async (name) => ({ message: `Hello ${name}`, externalStatus: 200, externalBodyLength: 3 }))
          )(request.name),
      })
      service(GatewayService, {
        invokeCustom: async (request) => ({
          message: await (options.invoke ?? (async (name) => `Hi ${name}`))(request.name),
        }),
      })
    },
    { transport: { interceptors: [authInterceptor(session)] } },
  )
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } })
  render(
    <PlatformContext.Provider value={{ api: platformApi, session }}>
      <TransportProvider transport={transport}>
        <QueryClientProvider client={queryClient}>
          <App />
        </QueryClientProvider>
      </TransportProvider>
    </PlatformContext.Provider>,
  )
  return { session }
}

const type = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } })

describe("the console", () => {
  it("signing up registers, logs in, and opens the console", async () => {
    const registered: Array<string> = []
    renderConsole({
      api: api({
        register: async (email, password) => {
          registered.push(`${email} ${password}`)
        },
      }),
    })
    type("Email", "ada@example.com")
    type("Password", "correct horse battery")
    fireEvent.click(screen.getByRole("button", { name: "Sign up" }))
    await screen.findByText("Signed in as ada@example.com")
    assert.deepStrictEqual(registered, ["ada@example.com correct horse battery"])
    screen.getByRole("heading", { name: "Greet" })
  })

  it("a failed login is a sentence, and the form stays", async () => {
    renderConsole({
      api: api({
        login: () => Promise.reject(new InvalidCredentials()),
      }),
    })
    type("Email", "ada@example.com")
    type("Password", "not the password")
    fireEvent.click(screen.getByRole("button", { name: "Log in" }))
    assert.strictEqual((await screen.findByRole("alert")).textContent, "invalid email or password")
    screen.getByRole("heading", { name: "Sign in" })
  })

  it("Greet: a loading state, then the message, the external status and length", async () => {
    let answer: (value: { message: string; externalStatus: number; externalBodyLength: number }) => void = () => {}
    renderConsole({ signedIn: true, greet: () => new Promise((resolve) => (answer = resolve)) })
    fireEvent.change(screen.getByRole("textbox", { name: "Name" }), { target: { value: "Ada" } })
    fireEvent.click(screen.getByRole("button", { name: "Greet" }))
    const busy = await screen.findByRole("button", { name: "Greeting…" })
    assert.isTrue((busy as HTMLButtonElement).disabled)
    answer({ message: "Hello Ada from greeter-service!", externalStatus: 404, externalBodyLength: 1256 })
    const greeting = await screen.findByRole("status", { name: "greeting" })
    assert.strictEqual(greeting.textContent, "Hello Ada from greeter-service!external status 404, 1256 bytes")
  })

  it("a failed Greet is the code and the message", async () => {
    renderConsole({
      signedIn: true,
      greet: () => Promise.reject(new ConnectError("caller: connection refused", Code.Unavailable)),
    })
    fireEvent.click(screen.getByRole("button", { name: "Greet" }))
    assert.strictEqual((await screen.findByRole("alert")).textContent, "unavailable: caller: connection refused")
  })

  it("InvokeCustom with a lang failure: its outcome in the list, and the breaker's state in the panel", async () => {
    let state: "closed" | "open" = "closed"
    renderConsole({
      signedIn: true,
      api: api({ resilience: async () => snapshot(state) }),
      invoke: async (name) => {
        state = "open"
        throw new ConnectError("circuit breaker is open", name === "unavailable" ? Code.Unavailable : Code.Internal)
      },
    })
    assert.strictEqual((await screen.findByTestId("breaker-state")).textContent, "closed")
    assert.strictEqual(screen.getByTestId("consecutive-failures").textContent, "0 (opens at 5)")
    fireEvent.change(screen.getByRole("combobox", { name: "Name" }), { target: { value: "unavailable" } })
    fireEvent.click(screen.getByRole("button", { name: "Invoke" }))
    const outcome = await screen.findByText(/circuit breaker is open/)
    assert.strictEqual(outcome.closest("li")?.textContent, "unavailable → unavailable: circuit breaker is open")
    // The panel asks again as soon as a call settles.
    await waitFor(() => assert.strictEqual(screen.getByTestId("breaker-state").textContent, "open"))
    assert.strictEqual(screen.getByTestId("budget").textContent, "19.5 of 20 tokens, +10/s")
    // Not "0 (opens at 5)" while it is open: gobreaker counts afresh in each state.
    assert.strictEqual(
      screen.getByTestId("consecutive-failures").textContent,
      "not counted while open: calls fail fast",
    )
  })

  it("the panel says why it cannot show the breaker", async () => {
    renderConsole({
      signedIn: true,
      api: api({ resilience: () => Promise.reject(new InvalidCredentials()) }),
    })
    await waitFor(() =>
      assert.include(
        screen.getAllByRole("alert").map((alert) => alert.textContent),
        "invalid email or password",
      ),
    )
  })

  it("logging out signs out even when auth cannot be reached", async () => {
    const { session } = renderConsole({
      signedIn: true,
      api: api({ logout: () => Promise.reject(new TypeError("fetch failed")) }),
    })
    fireEvent.click(screen.getByRole("button", { name: "Log out" }))
    await screen.findByRole("heading", { name: "Sign in" })
    assert.isUndefined(session.current())
    assert.strictEqual(screen.getByRole("alert").textContent, "fetch failed")
  })
})
