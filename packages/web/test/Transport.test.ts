import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect"
import { assert, describe, it } from "@effect/vitest"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { authInterceptor } from "../src/clients/Transport.ts"
import { makeSession, type Session } from "../src/Session.ts"

/**
 * A Greet client through the interceptor, to an in-memory greeter that, like the edge's
 * forward-auth, lets only the current access token through.
 */
const client = (session: Session, valid: () => string) =>
  createClient(
    GreeterService,
    createRouterTransport(
      ({ service }) => {
        service(GreeterService, {
          greet: (request, context) => {
            if (context.requestHeader.get("authorization") !== `Bearer ${valid()}`) {
              // As the edge's forward-auth refuses: auth's challenge comes with it.
              throw new ConnectError("invalid token", Code.Unauthenticated, { "www-authenticate": "Bearer" })
            }
            return {
              message: `Hello ${request.name} from greeter-service!`,
              externalStatus: 200,
              externalBodyLength: 3,
            }
          },
        })
      },
      { transport: { interceptors: [authInterceptor(session)] } },
    ),
  )

const signedIn = { email: "ada@example.com", token: "access-1", refreshToken: "refresh-1" }

describe("authInterceptor", () => {
  it("a refused access token is refreshed once, however many calls it failed, and each is sent again", async () => {
    let refreshes = 0
    const session = makeSession({
      refresh: async () => {
        refreshes += 1
        return { token: "access-2", refreshToken: "refresh-2" }
      },
    })
    session.signIn(signedIn)
    const greeter = client(session, () => "access-2")
    const [a, b] = await Promise.all([greeter.greet({ name: "Ada" }), greeter.greet({ name: "Grace" })])
    assert.strictEqual(a.message, "Hello Ada from greeter-service!")
    assert.strictEqual(b.message, "Hello Grace from greeter-service!")
    assert.strictEqual(refreshes, 1)
    assert.strictEqual(session.current()?.token, "access-2")
    // Accepted from now on: no more refreshes.
    await greeter.greet({ name: "Edsger" })
    assert.strictEqual(refreshes, 1)
  })

  it("refused again after its refresh, the call fails as it is: nothing loops", async () => {
    let refreshes = 0
    const session = makeSession({
      refresh: async () => {
        refreshes += 1
        return { token: `access-${refreshes + 1}`, refreshToken: "r" }
      },
    })
    session.signIn(signedIn)
    const error = await client(session, () => "never")
      .greet({ name: "Ada" })
      .then(() => undefined, ConnectError.from)
    assert.strictEqual(error?.code, Code.Unauthenticated)
    assert.strictEqual(refreshes, 1)
  })

  it("a refresh that fails signs out, and the call fails with the edge's refusal", async () => {
    const session = makeSession({ refresh: () => Promise.reject(new Error("invalid refresh token")) })
    session.signIn(signedIn)
    const error = await client(session, () => "access-2")
      .greet({ name: "Ada" })
      .then(() => undefined, ConnectError.from)
    assert.strictEqual(error?.code, Code.Unauthenticated)
    assert.isUndefined(session.current())
  })

  it("signed out, no token is sent and no refresh is tried", async () => {
    let refreshes = 0
    const session = makeSession({
      refresh: async () => {
        refreshes += 1
        return { token: "x", refreshToken: "y" }
      },
    })
    const error = await client(session, () => "access-1")
      .greet({ name: "Ada" })
      .then(() => undefined, ConnectError.from)
    assert.strictEqual(error?.code, Code.Unauthenticated)
    assert.strictEqual(refreshes, 0)
  })

  it("a service's own unauthenticated (lang's 401 through the gateway) is not resent: the call ran once", async () => {
    let refreshes = 0
    let calls = 0
    const session = makeSession({
      refresh: async () => {
        refreshes += 1
        return { token: "access-2", refreshToken: "refresh-2" }
      },
    })
    session.signIn(signedIn)
    const greeter = createClient(
      GreeterService,
      createRouterTransport(
        ({ service }) => {
          service(GreeterService, {
            greet: () => {
              calls += 1
              throw new ConnectError("custom-lang-service returned 401", Code.Unauthenticated)
            },
          })
        },
        { transport: { interceptors: [authInterceptor(session)] } },
      ),
    )
    const error = await greeter.greet({ name: "unauthorized" }).catch((e: unknown) => ConnectError.from(e))
    assert.strictEqual(error instanceof ConnectError ? error.code : undefined, Code.Unauthenticated)
    assert.strictEqual(calls, 1)
    assert.strictEqual(refreshes, 0)
  })
})
