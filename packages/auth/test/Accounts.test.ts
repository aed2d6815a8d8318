import { assert, describe, it } from "@effect/vitest"
import { AuthApi } from "@platform/contracts/AuthApi"
import * as ErrorBody from "@platform/contracts/ErrorBody"
import { DatabaseHealth } from "@platform/shared/Database"
import * as RestApi from "@platform/shared/RestApi"
import { ConfigProvider, Effect, Fiber, Layer } from "effect"
import { HttpServer } from "effect/http"
import { HttpApiTest } from "effect/http-api"
import { TestClock } from "effect/testing"
import { Accounts } from "../src/Accounts.ts"
import { AuthConfig } from "../src/Config.ts"
import { AccountsHttp, TokensHttp } from "../src/inbound/Http.ts"
import { KeyVault } from "../src/KeyVault.ts"
import { Passwords } from "../src/Passwords.ts"
import { LoginFailuresRepo } from "../src/persistence/LoginFailuresRepo.ts"
import { RefreshTokensRepo } from "../src/persistence/RefreshTokensRepo.ts"
import { SigningKeysRepo } from "../src/persistence/SigningKeysRepo.ts"
import { UsersRepo } from "../src/persistence/UsersRepo.ts"
import { Revocations } from "../src/Revocations.ts"
import { SigningKeys } from "../src/SigningKeys.ts"
import { Tokens } from "../src/Tokens.ts"

/**
 * auth's domain on memory repositories and the test clock: registration, the login throttle
 * and its window, refresh-token rotation with reuse detection, logout; then the REST handlers
 * through the contract's own client, in memory. The integration suites check the same over HTTP
 * and PostgreSQL.
 */
const Domain = Accounts.layer.pipe(
  Layer.provideMerge(Tokens.layer),
  Layer.provideMerge(Revocations.layer),
  Layer.provideMerge(SigningKeys.layerStored),
  Layer.provide([UsersRepo.layerMemory, LoginFailuresRepo.layerMemory]),
  Layer.provideMerge(RefreshTokensRepo.layerMemory),
  Layer.provide([SigningKeysRepo.layerMemory, KeyVault.layer]),
  Layer.provide(DatabaseHealth.disabled),
  Layer.provide(Passwords.layer),
  Layer.provideMerge(AuthConfig.layer),
  // Revocations by other replicas are looked for hourly: the test clock jumps days at a time.
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { AUTH_REVOCATION_POLL_MS: "3600000" } }))),
)

const ada = { email: "Ada@Example.com", password: "correct horse battery" }
const wrong = { email: "ada@example.com", password: "wrong horse battery" }

const tagOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => error._tag)

const client = "10.0.0.1"

describe("Accounts (domain, in memory)", () => {
  it.effect("register: one account per mailbox, whatever its case; bad input is the contract's 400", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      const user = yield* accounts.register(ada)
      assert.deepStrictEqual([user.email, user.role], ["ada@example.com", "user"])
      assert.strictEqual(yield* tagOf(accounts.register({ ...ada, email: "ADA@example.com" })), "EmailTaken")
      assert.strictEqual(yield* tagOf(accounts.register({ email: "ada" })), "InvalidRequest")
      assert.strictEqual(
        yield* tagOf(accounts.register({ email: "b@example.com", password: "short" })),
        "InvalidRequest",
      )
    }).pipe(Effect.provide(Domain)),
  )

  it.effect("login: a token whose subject is the user; wrong password and unknown email answer alike", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      const user = yield* accounts.register(ada)
      const session = yield* accounts.login(ada, client)
      const claims = yield* Effect.flatMap(Tokens, (tokens) => tokens.verify(session.token))
      assert.deepStrictEqual([claims.sub, claims.role], [user.id, "user"])
      assert.strictEqual(yield* tagOf(accounts.login(wrong, client)), "InvalidCredentials")
      assert.strictEqual(
        yield* tagOf(accounts.login({ ...ada, email: "nobody@example.com" }, client)),
        "InvalidCredentials",
      )
    }).pipe(Effect.provide(Domain)),
  )

  it.effect(
    "five failures throttle that client on that email for the window; the right password then works and clears them",
    () =>
      Effect.gen(function* () {
        const accounts = yield* Accounts
        yield* accounts.register(ada)
        for (let i = 0; i < 5; i++)
          assert.strictEqual(yield* tagOf(accounts.login(wrong, client)), "InvalidCredentials")
        const throttled = yield* Effect.flip(accounts.login(ada, client))
        assert.strictEqual(throttled._tag, "TooManyAttempts")
        assert.strictEqual(throttled._tag === "TooManyAttempts" ? throttled.retryAfterSeconds : 0, 900)
        yield* TestClock.adjust("15 minutes")
        yield* TestClock.adjust("1 second")
        yield* accounts.login(ada, client)
        for (let i = 0; i < 4; i++) yield* Effect.flip(accounts.login(wrong, client))
        yield* accounts.login(ada, client)
        assert.strictEqual(
          yield* tagOf(accounts.login(wrong, client)),
          "InvalidCredentials",
          "a success cleared the count",
        )
      }).pipe(Effect.provide(Domain)),
  )

  it.effect("an attacker's failures never lock the owner out: the owner's client logs in", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      yield* accounts.register(ada)
      for (let i = 0; i < 5; i++) yield* Effect.flip(accounts.login(wrong, "203.0.113.7"))
      assert.strictEqual(yield* tagOf(accounts.login(ada, "203.0.113.7")), "TooManyAttempts", "the attacker is")
      const owner = yield* accounts.login(ada, "198.51.100.1")
      assert.isString(owner.token)
    }).pipe(Effect.provide(Domain)),
  )

  it.effect("many clients failing on one email slow it down, without refusing the right password", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      yield* accounts.register(ada)
      for (let i = 0; i < 10; i++) {
        const attempt = yield* Effect.forkChild(Effect.flip(accounts.login(wrong, `203.0.113.${i}`)))
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(attempt)
      }
      // Ten failures on the email, five beyond the limit: 500 ms before the answer.
      const owner = yield* Effect.forkChild(accounts.login(ada, "198.51.100.1"))
      yield* TestClock.adjust("499 millis")
      assert.isUndefined(owner.pollUnsafe(), "still waiting")
      yield* TestClock.adjust("1 millis")
      assert.isString((yield* Fiber.join(owner)).token)
    }).pipe(Effect.provide(Domain)),
  )

  it.effect("one client failing on many emails is refused after its own limit", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      for (let i = 0; i < 50; i++) {
        yield* Effect.flip(accounts.login({ email: `guess${i}@example.com`, password: "nope nope" }, client))
      }
      assert.strictEqual(
        yield* tagOf(accounts.login({ email: "other@example.com", password: "x" }, client)),
        "TooManyAttempts",
      )
    }).pipe(Effect.provide(Domain)),
  )

  it.effect("refresh rotates the pair; a used refresh token presented again ends the whole session", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      yield* accounts.register(ada)
      const first = yield* accounts.login(ada, client)
      const second = yield* accounts.refresh(first.refreshToken)
      assert.notStrictEqual(second.refreshToken, first.refreshToken)
      assert.strictEqual(yield* tagOf(accounts.refresh(first.refreshToken)), "InvalidRefreshToken")
      assert.strictEqual(yield* tagOf(accounts.refresh(second.refreshToken)), "InvalidRefreshToken", "revoked")
    }).pipe(Effect.provide(Domain)),
  )

  it.live("one client's flood of logins does not hold up another client's: each gets its share of bcrypt", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      yield* accounts.register(ada)
      const done: Array<string> = []
      const flood = Array.from({ length: 12 }, () =>
        accounts.login(ada, "10.0.0.66").pipe(Effect.ensuring(Effect.sync(() => void done.push("flood")))),
      )
      const fiber = yield* Effect.forkChild(Effect.all(flood, { concurrency: "unbounded" }))
      yield* Effect.sleep("20 millis")
      yield* accounts.login(ada, "10.0.0.7")
      const floodBefore = done.filter((who) => who === "flood").length
      // Two of the flood's at a time: the other client's login is done long before the flood.
      assert.isBelow(floodBefore, 8, `${floodBefore} of the flood's 12 were done first`)
      const answers = yield* Fiber.join(fiber)
      assert.strictEqual(answers.length, 12, "the flood within its queue is answered too")
      // Beyond its running and queued share (2 + 16 by default), a client is refused at once.
      const burst = yield* Effect.all(
        Array.from({ length: 20 }, () => Effect.exit(accounts.login(ada, "10.0.0.66"))),
        { concurrency: "unbounded" },
      )
      const refused = burst.filter((exit) => exit._tag === "Failure").length
      assert.strictEqual(refused, 2, "20 at once: 18 taken, 2 refused with 429")
    }).pipe(Effect.provide(Domain)),
  )

  it.effect("logout revokes the session, its access token too; a refresh token expires after its lifetime", () =>
    Effect.gen(function* () {
      const accounts = yield* Accounts
      const tokens = yield* Tokens
      yield* accounts.register(ada)
      const session = yield* accounts.login(ada, client)
      const kept = yield* accounts.login(ada, client)
      yield* tokens.verify(session.token)
      yield* accounts.logout(session.refreshToken)
      assert.strictEqual(yield* tagOf(accounts.refresh(session.refreshToken)), "InvalidRefreshToken")
      assert.strictEqual(yield* tagOf(tokens.verify(session.token)), "InvalidToken", "even though it was cached")
      yield* tokens.verify(kept.token)
      const later = yield* accounts.login(ada, client)
      yield* TestClock.adjust("30 days")
      assert.strictEqual(yield* tagOf(accounts.refresh(later.refreshToken)), "InvalidRefreshToken")
    }).pipe(Effect.provide(Domain)),
  )
})

describe("auth's handlers (in memory)", () => {
  const Handlers = Layer.mergeAll(AccountsHttp, TokensHttp).pipe(
    Layer.provide(Domain),
    Layer.provideMerge(RestApi.requestValidation(ErrorBody.RequestValidation, ErrorBody.validation)),
    Layer.provideMerge(HttpServer.layerServices),
  )

  it.effect("register 201, login, verify copies the subject; no or a foreign bearer is the contract's 401", () =>
    Effect.gen(function* () {
      const client = yield* HttpApiTest.groups(AuthApi, ["accounts", "tokens"])
      const user = yield* client.accounts.register({ payload: ada })
      const { token } = yield* client.accounts.login({ payload: ada, headers: {} })
      const verified = yield* client.tokens.verify({ headers: { authorization: `Bearer ${token}` } })
      assert.deepStrictEqual(verified.body, { ok: true, userId: user.id })
      assert.deepStrictEqual(verified.headers, { "x-user-id": user.id, "x-user-role": "user" })
      assert.strictEqual(yield* tagOf(client.tokens.verify({ headers: {} })), "MissingBearer")
      assert.strictEqual(
        yield* tagOf(client.tokens.verify({ headers: { authorization: `Bearer ${token}x` } })),
        "InvalidToken",
      )
      const { keys } = yield* client.tokens.jwks()
      assert.strictEqual(keys.length, 1)
      assert.strictEqual(yield* tagOf(client.accounts.login({ payload: wrong, headers: {} })), "InvalidCredentials")
    }).pipe(Effect.provide(Handlers)),
  )
})
