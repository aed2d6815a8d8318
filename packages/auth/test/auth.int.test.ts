import { randomUUID } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import fc from "fast-check"
import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, type JWK, SignJWT } from "jose"
import { call, credentials, startAuth } from "./support.ts"

/** The instance under test and the database it shares with any second instance a test starts. */
class Auth extends Context.Service<Auth, { readonly base: string; readonly database: URL }>()("test/Auth") {}

const AuthUnderTest = Layer.unwrap(
  Effect.gen(function* () {
    const database = yield* TestDatabase.freshDatabase("auth_test")
    const base = yield* startAuth({ DATABASE_URL: database.href })
    return Layer.merge(Layer.succeed(Auth, { base, database }), TestDatabase.sqlClient(database))
  }),
)

const uniqueEmail = () => `user-${randomUUID().slice(0, 8)}@example.com`

const register = (email: string, password: string) =>
  Effect.flatMap(Auth, ({ base }) => call(base, "POST", "/auth/register", credentials(email, password)))
const login = (email: string, password: string) =>
  Effect.flatMap(Auth, ({ base }) => call(base, "POST", "/auth/login", credentials(email, password)))
const verify = (authorization: string | undefined, base?: string) =>
  Effect.flatMap(Auth, (auth) =>
    call(base ?? auth.base, "GET", "/verify", authorization === undefined ? {} : { headers: { authorization } }),
  )
const post = (path: string, json: unknown) => Effect.flatMap(Auth, ({ base }) => call(base, "POST", path, { json }))

const session = (answer: { body: unknown }) => answer.body as { token: string; refreshToken: string; expiresIn: number }

/** A signed-up, logged-in user. */
const signedIn = Effect.gen(function* () {
  const email = uniqueEmail()
  const registered = yield* register(email, "correct horse battery")
  assert.strictEqual(registered.status, 201)
  const loggedIn = yield* login(email, "correct horse battery")
  assert.strictEqual(loggedIn.status, 200)
  return { email, id: (registered.body as { id: string }).id, ...session(loggedIn) }
})

/** The service's own newest private key, from auth_db, to forge tokens a thief could not. */
const serviceKey = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ kid: string; private_jwk: string }>`
    SELECT kid, private_jwk FROM signing_keys ORDER BY created_at DESC LIMIT 1`
  const jwk = JSON.parse(row?.private_jwk ?? "{}") as JWK
  return { kid: row?.kid ?? "", key: yield* Effect.promise(() => importJWK(jwk, "RS256")), jwk }
})

const sign = (
  claims: Record<string, unknown>,
  options: { kid: string; key: Parameters<SignJWT["sign"]>[0]; alg?: string },
) =>
  Effect.promise(() =>
    new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? "RS256", kid: options.kid }).sign(options.key),
  )

const nowSeconds = () => Math.floor(Date.now() / 1000)

layer(AuthUnderTest, { excludeTestServices: true, timeout: "120 seconds" })("auth over HTTP and PostgreSQL", (it) => {
  describe("POST /auth/register", () => {
    it.effect("201 {id, email, role}; the row holds a cost-10 bcrypt hash and the normalised email", () =>
      Effect.gen(function* () {
        const email = uniqueEmail()
        const answer = yield* register(`  ${email.toUpperCase()} `, "correct horse battery")
        assert.strictEqual(answer.status, 201)
        const body = answer.body as { id: string; email: string; role: string }
        assert.deepStrictEqual(Object.keys(body).sort(), ["email", "id", "role"])
        assert.strictEqual(body.email, email)
        assert.strictEqual(body.role, "user")
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ email: string; password_hash: string; role: string }>`
          SELECT email, password_hash, role FROM users WHERE id = ${body.id}::uuid`
        assert.strictEqual(row?.email, email)
        assert.match(row?.password_hash ?? "", /^\$2[aby]\$10\$/)
      }),
    )

    it.effect("a missing, null or empty field is 400 email and password are required", () =>
      Effect.gen(function* () {
        for (const json of [
          {},
          { email: "a@b.co" },
          { password: "correct horse" },
          { email: null, password: "x" },
          { email: "", password: "" },
        ]) {
          const answer = yield* post("/auth/register", json)
          assert.strictEqual(answer.status, 400)
          assert.deepStrictEqual(answer.body, { error: "email and password are required" })
        }
      }),
    )

    it.effect("an email registered before, in any case or spacing, is 409 email already exists", () =>
      Effect.gen(function* () {
        const email = uniqueEmail()
        assert.strictEqual((yield* register(email, "correct horse battery")).status, 201)
        const again = yield* register(` ${email.toUpperCase()}`, "another horse battery")
        assert.strictEqual(again.status, 409)
        assert.deepStrictEqual(again.body, { error: "email already exists" })
      }),
    )

    it.effect("weak or unusable passwords and bad emails are a clear 400, never a silent truncation", () =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<[string, string, RegExp]> = [
          ["not-an-email", "correct horse", /valid address/],
          [uniqueEmail(), "short", /between 8 and 72 bytes/],
          [uniqueEmail(), "x".repeat(73), /between 8 and 72 bytes/],
          // 24 three-byte characters: 72 bytes is the limit, 25 is over it.
          [uniqueEmail(), "€".repeat(25), /between 8 and 72 bytes/],
        ]
        for (const [email, password, error] of cases) {
          const answer = yield* register(email, password)
          assert.strictEqual(answer.status, 400, `${email} / ${password}`)
          assert.match((answer.body as { error: string }).error, error)
        }
        const email = uniqueEmail()
        const same = yield* register(email, email.toUpperCase())
        assert.deepStrictEqual(same.body, { error: "password must not be the email address" })
        assert.strictEqual((yield* register(uniqueEmail(), "€".repeat(24))).status, 201)
        const wrongType = yield* post("/auth/register", { email: 42, password: "correct horse" })
        assert.strictEqual(wrongType.status, 400)
        assert.deepStrictEqual(wrongType.body, { error: "email: must be a string" })
      }),
    )
  })

  describe("POST /auth/login", () => {
    it.effect("200 with an RS256 token whose kid is in JWKS and claims sub, role, iss, exp = iat + 24 h", () =>
      Effect.gen(function* () {
        const { id, token, refreshToken, expiresIn } = yield* signedIn
        assert.strictEqual(expiresIn, 86_400)
        assert.match(refreshToken, /^[A-Za-z0-9_-]{43}$/)
        const header = decodeProtectedHeader(token)
        assert.strictEqual(header.alg, "RS256")
        const claims = decodeJwt(token)
        assert.strictEqual(claims.sub, id)
        assert.strictEqual(claims.role, "user")
        assert.strictEqual(claims.iss, "auth-service")
        assert.strictEqual((claims.exp ?? 0) - (claims.iat ?? 0), 86_400)
        const { base } = yield* Auth
        const jwks = (yield* call(base, "GET", "/.well-known/jwks.json")).body as {
          keys: Array<Record<string, string>>
        }
        const published = jwks.keys.find((key) => key.kid === header.kid)
        assert.deepStrictEqual(Object.keys(published ?? {}).sort(), ["alg", "e", "kid", "kty", "n", "use"])
        assert.include(published, { kty: "RSA", use: "sig", alg: "RS256" })
      }),
    )

    it.effect("a wrong password and an unknown email get the same 401", () =>
      Effect.gen(function* () {
        const { email } = yield* signedIn
        const wrong = yield* login(email, "wrong horse battery")
        const unknown = yield* login(uniqueEmail(), "wrong horse battery")
        assert.strictEqual(wrong.status, 401)
        assert.strictEqual(unknown.status, 401)
        assert.deepStrictEqual(wrong.body, { error: "invalid email or password" })
        assert.strictEqual(wrong.text, unknown.text)
        const missing = yield* post("/auth/login", { email })
        assert.strictEqual(missing.status, 400)
        assert.deepStrictEqual(missing.body, { error: "email and password are required" })
      }),
    )

    it.effect("a password over 72 bytes is refused, not truncated into a match", () =>
      Effect.gen(function* () {
        const email = uniqueEmail()
        const password = "p".repeat(72)
        assert.strictEqual((yield* register(email, password)).status, 201)
        // bcrypt alone would accept this: its first 72 bytes are the password.
        const longer = yield* login(email, `${password}extra`)
        assert.strictEqual(longer.status, 400)
        assert.match((longer.body as { error: string }).error, /at most 72 bytes/)
        assert.strictEqual((yield* login(email, password)).status, 200)
      }),
    )

    it.effect("5 failures within the window: 429 too many attempts with Retry-After, shared in the database", () =>
      Effect.gen(function* () {
        const { email } = yield* signedIn
        for (let i = 0; i < 5; i++) assert.strictEqual((yield* login(email, "wrong horse battery")).status, 401)
        const throttled = yield* login(email, "correct horse battery")
        assert.strictEqual(throttled.status, 429)
        assert.deepStrictEqual(throttled.body, { error: "too many attempts" })
        const retryAfter = Number(throttled.headers.get("retry-after"))
        assert.isTrue(retryAfter > 0 && retryAfter <= 900, `Retry-After ${retryAfter}`)
        // A second replica on the same database counts the same failures.
        const { database } = yield* Auth
        const replica = yield* startAuth({ DATABASE_URL: database.href })
        const elsewhere = yield* call(replica, "POST", "/auth/login", credentials(email, "correct horse battery"))
        assert.strictEqual(elsewhere.status, 429)
      }),
    )

    it.effect("a successful login resets the count", () =>
      Effect.gen(function* () {
        const { email } = yield* signedIn
        for (let i = 0; i < 4; i++) yield* login(email, "wrong horse battery")
        assert.strictEqual((yield* login(email, "correct horse battery")).status, 200)
        for (let i = 0; i < 4; i++) assert.strictEqual((yield* login(email, "wrong horse battery")).status, 401)
        assert.strictEqual((yield* login(email, "correct horse battery")).status, 200)
      }),
    )
  })

  describe("GET /verify (forward-auth)", () => {
    it.effect("200 {ok, userId} with X-User-Id and X-User-Role", () =>
      Effect.gen(function* () {
        const { id, token } = yield* signedIn
        const answer = yield* verify(`Bearer ${token}`)
        assert.strictEqual(answer.status, 200)
        assert.deepStrictEqual(answer.body, { ok: true, userId: id })
        assert.strictEqual(answer.headers.get("x-user-id"), id)
        assert.strictEqual(answer.headers.get("x-user-role"), "user")
        assert.strictEqual((yield* verify(`bearer   ${token} `)).status, 200)
      }),
    )

    it.effect("no bearer: 401 missing bearer token; a bad one: 401 invalid token", () =>
      Effect.gen(function* () {
        for (const header of [undefined, "", "Basic dXNlcjpwYXNz", "Bearer", "Token abc"]) {
          const answer = yield* verify(header)
          assert.strictEqual(answer.status, 401, String(header))
          assert.deepStrictEqual(answer.body, { error: "missing bearer token" })
        }
        for (const header of ["Bearer abc", "Bearer a.b.c", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.AAAA"]) {
          const answer = yield* verify(header)
          assert.strictEqual(answer.status, 401, header)
          assert.deepStrictEqual(answer.body, { error: "invalid token" })
        }
      }),
    )

    it.effect("forged, expired, foreign and downgraded tokens are all 401 invalid token", () =>
      Effect.gen(function* () {
        const { id } = yield* signedIn
        const { kid, key, jwk } = yield* serviceKey
        const now = nowSeconds()
        const good = { sub: id, role: "user", iss: "auth-service", iat: now, exp: now + 600 }
        const stranger = yield* Effect.promise(() => generateKeyPair("RS256"))
        const publicPem = Buffer.from(JSON.stringify({ kty: "RSA", n: jwk.n, e: jwk.e }))
        const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
        const forged: Record<string, string> = {
          "alg none": `${encode({ alg: "none", kid })}.${encode(good)}.`,
          "HS256 signed with the public key": yield* sign(good, { kid, key: publicPem, alg: "HS256" }),
          "an unknown kid": yield* sign(good, { kid: "not-a-key-of-ours", key: stranger.privateKey }),
          "our kid, another key": yield* sign(good, { kid, key: stranger.privateKey }),
          expired: yield* sign({ ...good, iat: now - 7200, exp: now - 3600 }, { kid, key }),
          "a foreign issuer": yield* sign({ ...good, iss: "someone-else" }, { kid, key }),
          "no issuer": yield* sign({ sub: id, role: "user", exp: now + 600 }, { kid, key }),
          "not yet valid": yield* sign({ ...good, nbf: now + 3600 }, { kid, key }),
          "no expiry": yield* sign({ sub: id, role: "user", iss: "auth-service" }, { kid, key }),
          "no subject": yield* sign({ role: "user", iss: "auth-service", exp: now + 600 }, { kid, key }),
        }
        // The same claims with the real key pass: what fails above is the forgery alone.
        assert.strictEqual((yield* verify(`Bearer ${yield* sign(good, { kid, key })}`)).status, 200)
        for (const [what, token] of Object.entries(forged)) {
          const answer = yield* verify(`Bearer ${token}`)
          assert.strictEqual(answer.status, 401, what)
          assert.deepStrictEqual(answer.body, { error: "invalid token" }, what)
        }
      }),
    )

    it.effect("verification needs no database: it answers while auth_db refuses connections", () =>
      Effect.gen(function* () {
        const { token } = yield* signedIn
        const { database } = yield* Auth
        const name = database.pathname.slice(1)
        yield* TestDatabase.onServer((sql) => sql`ALTER DATABASE ${sql(name)} ALLOW_CONNECTIONS false`)
        yield* Effect.gen(function* () {
          yield* TestDatabase.onServer(
            (sql) => sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name}`,
          )
          assert.strictEqual((yield* verify(`Bearer ${token}`)).status, 200)
          // Accounts need the database: that is a 503, not a 500.
          const down = yield* login(uniqueEmail(), "correct horse battery")
          assert.strictEqual(down.status, 503)
          assert.deepStrictEqual(down.body, { error: "database unavailable" })
        }).pipe(
          Effect.ensuring(
            TestDatabase.onServer((sql) => sql`ALTER DATABASE ${sql(name)} ALLOW_CONNECTIONS true`).pipe(Effect.orDie),
          ),
        )
      }),
    )
  })

  describe("refresh tokens", () => {
    it.effect("register, login, verify, refresh, reuse detection, logout", () =>
      Effect.gen(function* () {
        const first = yield* signedIn
        const refreshed = yield* post("/auth/refresh", { refreshToken: first.refreshToken })
        assert.strictEqual(refreshed.status, 200)
        const second = session(refreshed)
        assert.notStrictEqual(second.refreshToken, first.refreshToken)
        assert.strictEqual((yield* verify(`Bearer ${second.token}`)).status, 200)
        assert.strictEqual(decodeJwt(second.token).sub, first.id)

        // The first token again: a replay. The whole session dies, the newer token with it.
        const replay = yield* post("/auth/refresh", { refreshToken: first.refreshToken })
        assert.strictEqual(replay.status, 401)
        assert.deepStrictEqual(replay.body, { error: "invalid refresh token" })
        assert.strictEqual((yield* post("/auth/refresh", { refreshToken: second.refreshToken })).status, 401)

        // Logout revokes a live session.
        const other = yield* login(first.email, "correct horse battery")
        const { refreshToken } = session(other)
        const out = yield* post("/auth/logout", { refreshToken })
        assert.strictEqual(out.status, 204)
        assert.strictEqual((yield* post("/auth/refresh", { refreshToken })).status, 401)
        assert.strictEqual((yield* post("/auth/logout", { refreshToken })).status, 204)
      }),
    )

    it.effect("X-Refresh-Cookie: the refresh token only in an HttpOnly cookie, which refresh and logout take", () =>
      Effect.gen(function* () {
        const { base } = yield* Auth
        const email = uniqueEmail()
        assert.strictEqual((yield* register(email, "correct horse battery")).status, 201)
        const browser = { "x-refresh-cookie": "1" }
        const cookieOf = (answer: { headers: Headers }) => {
          const [cookie] = answer.headers.getSetCookie()
          return { header: cookie ?? "", pair: (cookie ?? "").split(";")[0] ?? "" }
        }
        const loggedIn = yield* call(base, "POST", "/auth/login", {
          ...credentials(email, "correct horse battery"),
          headers: browser,
        })
        assert.strictEqual(loggedIn.status, 200)
        assert.notProperty(loggedIn.body, "refreshToken", "not in the body a script reads")
        assert.strictEqual((yield* verify(`Bearer ${session(loggedIn).token}`)).status, 200)
        const first = cookieOf(loggedIn)
        assert.match(first.pair, /^platform_refresh=.{20,}$/)
        for (const attribute of ["HttpOnly", "SameSite=Strict", "Path=/auth", "Max-Age=2592000"]) {
          assert.include(first.header, attribute)
        }
        assert.notInclude(first.header, "Secure", "plain HTTP: a Secure cookie would not come back")
        const overHttps = yield* call(base, "POST", "/auth/login", {
          ...credentials(email, "correct horse battery"),
          headers: { ...browser, "x-forwarded-proto": "https" },
        })
        assert.include(cookieOf(overHttps).header, "Secure")

        // Refresh with the cookie alone; without the header the cookie is not looked at.
        const refreshWith = (headers: Record<string, string>) =>
          call(base, "POST", "/auth/refresh", { json: {}, headers })
        assert.strictEqual((yield* refreshWith({ cookie: first.pair })).status, 400)
        const refreshed = yield* refreshWith({ ...browser, cookie: first.pair })
        assert.strictEqual(refreshed.status, 200)
        assert.notProperty(refreshed.body, "refreshToken")
        const second = cookieOf(refreshed)
        assert.notStrictEqual(second.pair, first.pair, "rotated")
        // The old cookie again is a replay: the session ends, the new cookie with it.
        assert.strictEqual((yield* refreshWith({ ...browser, cookie: first.pair })).status, 401)
        assert.strictEqual((yield* refreshWith({ ...browser, cookie: second.pair })).status, 401)

        // Logout with the cookie ends that session and tells the browser to forget the cookie.
        const again = cookieOf(
          yield* call(base, "POST", "/auth/login", {
            ...credentials(email, "correct horse battery"),
            headers: browser,
          }),
        )
        const out = yield* call(base, "POST", "/auth/logout", { json: {}, headers: { ...browser, cookie: again.pair } })
        assert.strictEqual(out.status, 204)
        assert.match(cookieOf(out).header, /^platform_refresh=; .*Max-Age=0/)
        assert.strictEqual((yield* refreshWith({ ...browser, cookie: again.pair })).status, 401)
      }),
    )

    it.effect("logout ends the session's access tokens too: here at once, on another replica within a poll", () =>
      Effect.gen(function* () {
        const { database } = yield* Auth
        const replica = yield* startAuth({ DATABASE_URL: database.href, AUTH_REVOCATION_POLL_MS: "200" })
        const { token, refreshToken } = yield* signedIn
        const other = yield* signedIn
        const bearer = `Bearer ${token}`
        // Verified (and cached) on both before the logout.
        assert.strictEqual((yield* verify(bearer)).status, 200)
        assert.strictEqual((yield* verify(bearer, replica)).status, 200)

        assert.strictEqual((yield* post("/auth/logout", { refreshToken })).status, 204)
        const here = yield* verify(bearer)
        assert.deepStrictEqual([here.status, here.body], [401, { error: "invalid token" }])
        const started = Date.now()
        while ((yield* verify(bearer, replica)).status !== 401) {
          assert.isBelow(Date.now() - started, 3000, "the replica refuses it within a few polls")
          yield* Effect.sleep("50 millis")
        }
        // Another user's session is untouched.
        assert.strictEqual((yield* verify(`Bearer ${other.token}`)).status, 200)
        assert.strictEqual((yield* verify(`Bearer ${other.token}`, replica)).status, 200)
        // A replica started after the logout knows it from its first look.
        const late = yield* startAuth({ DATABASE_URL: database.href })
        let status = 0
        for (let attempt = 0; attempt < 40 && status !== 401; attempt++) {
          status = (yield* verify(bearer, late)).status
          if (status !== 401) yield* Effect.sleep("50 millis")
        }
        assert.strictEqual(status, 401)
      }),
    )

    it.effect("refresh tokens are stored only as hashes", () =>
      Effect.gen(function* () {
        const { refreshToken } = yield* signedIn
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ token_hash: Uint8Array }>`SELECT token_hash FROM refresh_tokens`
        assert.isAbove(rows.length, 0)
        for (const row of rows) assert.notInclude(Buffer.from(row.token_hash).toString("latin1"), refreshToken)
        const dump = JSON.stringify(yield* sql`SELECT * FROM refresh_tokens`)
        assert.notInclude(dump, refreshToken)
      }),
    )

    it.effect("missing or unknown refresh tokens", () =>
      Effect.gen(function* () {
        const missing = yield* post("/auth/refresh", {})
        assert.strictEqual(missing.status, 400)
        assert.deepStrictEqual(missing.body, { error: "refreshToken is required" })
        const unknown = yield* post("/auth/refresh", { refreshToken: "nope" })
        assert.strictEqual(unknown.status, 401)
      }),
    )
  })

  describe("discovery", () => {
    it.effect("OpenID configuration names the issuer, JWKS and the token endpoint", () =>
      Effect.gen(function* () {
        const { base } = yield* Auth
        const answer = yield* call(base, "GET", "/.well-known/openid-configuration")
        const body = answer.body as Record<string, unknown>
        assert.strictEqual(body.issuer, "auth-service")
        assert.strictEqual(body.jwks_uri, `${base}/.well-known/jwks.json`)
        assert.strictEqual(body.token_endpoint, `${base}/auth/login`)
        assert.deepStrictEqual(body.id_token_signing_alg_values_supported, ["RS256"])
      }),
    )
  })

  describe("properties", () => {
    it.effect("arbitrary Authorization headers never yield a 5xx", () =>
      Effect.gen(function* () {
        const { base } = yield* Auth
        const { token } = yield* signedIn
        const header = fc.oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
          fc.constantFrom(token, `${token}x`, token.slice(0, -3)).map((t) => `Bearer ${t}`),
          fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
        )
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(header, async (authorization) => {
              // fetch refuses header values it cannot send; those never reach a server.
              const valid = /^[\t\x20-\x7e\x80-\xff]*$/.test(authorization)
              if (!valid) return true
              const response = await fetch(`${base}/verify`, { headers: { authorization } })
              await response.arrayBuffer()
              return response.status === 200 || response.status === 401
            }),
            { numRuns: 200 },
          ),
        )
      }),
    )

    it.effect("arbitrary JSON bodies to every POST never yield a 5xx", () =>
      Effect.gen(function* () {
        const { base } = yield* Auth
        const body = fc.oneof(
          fc.json(),
          fc
            .record(
              {
                email: fc.oneof(fc.string(), fc.emailAddress(), fc.anything()),
                password: fc.oneof(fc.string(), fc.anything()),
              },
              { requiredKeys: [] },
            )
            .map((value) => JSON.stringify(value)),
          fc.record({ refreshToken: fc.anything() }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
        )
        const path = fc.constantFrom("/auth/register", "/auth/login", "/auth/refresh", "/auth/logout")
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(path, body, async (target, payload) => {
              const response = await fetch(`${base}${target}`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: payload,
              })
              const text = await response.text()
              return response.status < 500 && (response.status === 204 || text.length > 0)
            }),
            { numRuns: 60 },
          ),
        )
      }),
    )

    it.effect("for valid email/password pairs, register then login succeeds and sub is the new id", () =>
      Effect.gen(function* () {
        const { base } = yield* Auth
        const pair = fc.record({
          local: fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,20}$/),
          password: fc.string({ unit: "grapheme", minLength: 8, maxLength: 16 }).filter((p) => {
            const bytes = Buffer.byteLength(p)
            return bytes >= 8 && bytes <= 72
          }),
        })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(pair, async ({ local, password }) => {
              const email = `${local}.${randomUUID().slice(0, 6)}@prop.example`
              const post = (path: string) =>
                fetch(`${base}${path}`, {
                  method: "POST",
                  headers: { "content-type": "application/json" },
                  body: JSON.stringify({ email, password }),
                })
              const registered = await post("/auth/register")
              const { id } = (await registered.json()) as { id: string }
              const loggedIn = await post("/auth/login")
              const { token } = (await loggedIn.json()) as { token: string }
              return registered.status === 201 && loggedIn.status === 200 && decodeJwt(token).sub === id
            }),
            { numRuns: 15 },
          ),
        )
      }),
    )
  })
})
