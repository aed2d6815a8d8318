import { execFile } from "node:child_process"
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { SpanRecorder } from "@platform/testkit/SpanRecorder"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import {
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  importPKCS8,
  jwtVerify,
  SignJWT,
} from "jose"
import * as App from "../src/App.ts"
import { call, credentials, startAuth } from "./support.ts"

const kids = (base: string) =>
  Effect.map(call(base, "GET", "/.well-known/jwks.json"), (answer) =>
    (answer.body as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid),
  )

const signUp = (base: string) =>
  Effect.gen(function* () {
    const email = `keys-${randomUUID().slice(0, 8)}@example.com`
    assert.strictEqual(
      (yield* call(base, "POST", "/auth/register", credentials(email, "correct horse battery"))).status,
      201,
    )
    return email
  })

const tokenFrom = (base: string, email: string) =>
  Effect.map(call(base, "POST", "/auth/login", credentials(email, "correct horse battery")), (answer) => {
    assert.strictEqual(answer.status, 200)
    return (answer.body as { token: string }).token
  })

const verifies = (base: string, token: string) =>
  Effect.map(call(base, "GET", "/verify", { headers: { authorization: `Bearer ${token}` } }), (a) => a.status === 200)

/** A pool on `url` for the enclosing scope. */
const sqlFor = (url: URL) => Effect.map(Layer.build(TestDatabase.sqlClient(url)), Context.get(SqlClient.SqlClient))

const rotateKeyScript = fileURLToPath(new URL("../scripts/rotate-key.ts", import.meta.url))

const pem = () =>
  generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string

describe("signing keys", () => {
  it.live("survive restarts and replicas, and rotate without invalidating issued tokens", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("auth_keys")
      const env = { DATABASE_URL: database.href }
      const firstScope = yield* Scope.make()
      const first = yield* startAuth(env).pipe(Scope.provide(firstScope))
      const email = yield* signUp(first)
      const before = yield* tokenFrom(first, email)
      const [original] = yield* kids(first)

      // A second replica on the same database signs and verifies with the same key.
      const second = yield* startAuth(env)
      assert.deepStrictEqual(yield* kids(second), [original])
      assert.isTrue(yield* verifies(second, before))
      assert.isTrue(yield* verifies(first, yield* tokenFrom(second, email)))

      // Rotation through the command a user runs.
      const { stdout } = yield* Effect.promise(() =>
        promisify(execFile)(process.execPath, [rotateKeyScript], {
          env: { PATH: process.env.PATH ?? "", DATABASE_URL: database.href, LOG_LEVEL: "info" },
        }),
      )
      assert.match(stdout, /added signing key/)

      // A replica started after the rotation signs with the new key and publishes both.
      const third = yield* startAuth(env)
      const published = yield* kids(third)
      assert.strictEqual(published.length, 2)
      assert.strictEqual(published[1], original)
      const rotated = published[0] ?? ""
      const after = yield* tokenFrom(third, email)
      assert.strictEqual(decodeProtectedHeader(after).kid, rotated)
      // Tokens from before the rotation still verify everywhere...
      assert.isTrue(yield* verifies(third, before))
      // ...and a replica that has not reloaded yet learns the new kid from the first token carrying it.
      assert.isTrue(yield* verifies(first, after))
      assert.deepStrictEqual(yield* kids(first), [rotated, original])

      // After a restart, nothing issued earlier is lost.
      yield* Scope.close(firstScope, Exit.void)
      const restarted = yield* startAuth(env)
      assert.isTrue(yield* verifies(restarted, before))
      assert.isTrue(yield* verifies(restarted, after))
    }),
  )

  it.live(
    "AUTH_KEY_ENCRYPTION_KEY seals stored keys, including ones stored before it was set; without it, no start",
    () =>
      Effect.gen(function* () {
        const database = yield* TestDatabase.freshDatabase("auth_keys_sealed")
        const sql = yield* sqlFor(database)
        const storedKeys = Effect.map(sql<{ private_jwk: string }>`SELECT private_jwk FROM signing_keys`, (rows) =>
          rows.map((row) => row.private_jwk),
        )
        // First without the key: stored as JWK text (the private exponent readable).
        const plain = yield* startAuth({ DATABASE_URL: database.href })
        const email = yield* signUp(plain)
        const before = yield* tokenFrom(plain, email)
        assert.match((yield* storedKeys)[0] ?? "", /"d":/)

        const kek = randomBytes(32).toString("base64")
        const sealed = yield* startAuth({ DATABASE_URL: database.href, AUTH_KEY_ENCRYPTION_KEY: kek })
        const rows = yield* storedKeys
        assert.strictEqual(rows.length, 1)
        assert.notMatch(rows[0] ?? "", /"d"|"kty"/, "the private key is no longer readable in auth_db")
        assert.strictEqual(rows[0]?.split(".").length, 5, "a compact JWE")
        assert.isTrue(yield* verifies(sealed, before), "the same key, sealed: earlier tokens still verify")

        // Rotation through the command seals the new key too.
        yield* Effect.promise(() =>
          promisify(execFile)(process.execPath, [rotateKeyScript], {
            env: { PATH: process.env.PATH ?? "", DATABASE_URL: database.href, AUTH_KEY_ENCRYPTION_KEY: kek },
          }),
        )
        const afterRotation = yield* storedKeys
        assert.strictEqual(afterRotation.length, 2)
        for (const row of afterRotation) assert.notMatch(row, /"d"/)

        // The right key opens them; no key, or another, stops start-up rather than signing with a new key.
        const reopened = yield* startAuth({ DATABASE_URL: database.href, AUTH_KEY_ENCRYPTION_KEY: kek })
        assert.isTrue(yield* verifies(reopened, before))
        assert.strictEqual((yield* kids(reopened)).length, 2)
        for (const env of [{}, { AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64") }]) {
          const refused = yield* Effect.exit(startAuth({ DATABASE_URL: database.href, ...env }))
          assert.isTrue(Exit.isFailure(refused))
          assert.match(String(refused), /AUTH_KEY_ENCRYPTION_KEY/)
        }
        const short = yield* Effect.exit(
          startAuth({ DATABASE_URL: database.href, AUTH_KEY_ENCRYPTION_KEY: "c2hvcnQ=" }),
        )
        assert.match(String(short), /AUTH_KEY_ENCRYPTION_KEY: expected 32 bytes/)
      }),
  )

  it.live("JWKS keeps a retired key for one token lifetime after its successor, then drops it", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("auth_keys_window")
      const base = yield* startAuth({ DATABASE_URL: database.href })
      const [current] = yield* kids(base)
      const sql = yield* sqlFor(database)
      // Age the current key: it took over three days ago, and two older keys before it.
      const [row] = yield* sql<{ private_jwk: string }>`SELECT private_jwk FROM signing_keys`
      yield* sql`UPDATE signing_keys SET created_at = now() - interval '2 days'`
      yield* sql`INSERT INTO signing_keys (kid, private_jwk, created_at)
                 VALUES ('retired-long-ago', ${row?.private_jwk ?? ""}, now() - interval '3 days')`
      const fresh = yield* startAuth({ DATABASE_URL: database.href })
      // 'retired-long-ago' was replaced two days ago: past the 24 h lifetime of its tokens.
      assert.deepStrictEqual(yield* kids(fresh), [current])
    }),
  )

  it.live("keys from AUTH_PRIVATE_KEY (PEM), AUTH_PRIVATE_KEY_FILE and JWK: kid is the RFC 7638 thumbprint", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("auth_keys_configured")
      const [signer, verifier] = [pem(), pem()]
      const signerKey = yield* Effect.promise(() => importPKCS8(signer, "RS256", { extractable: true }))
      const thumbprint = yield* Effect.promise(async () => {
        const { kty, n, e } = await exportJWK(signerKey)
        return calculateJwkThumbprint({ kty: kty ?? "RSA", n: n ?? "", e: e ?? "" })
      })

      const base = yield* startAuth({ DATABASE_URL: database.href, AUTH_PRIVATE_KEY: `${signer}\n${verifier}` })
      const published = yield* kids(base)
      assert.strictEqual(published.length, 2)
      assert.strictEqual(published[0], thumbprint)
      const token = yield* tokenFrom(base, yield* signUp(base))
      assert.strictEqual(decodeProtectedHeader(token).kid, thumbprint)
      const sql = yield* sqlFor(database)
      const stored = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM signing_keys`
      assert.strictEqual(stored[0]?.n, 0, "configured keys are not mixed with stored ones")

      const directory = mkdtempSync(join(tmpdir(), "auth-keys-"))
      const file = join(directory, "key.pem")
      writeFileSync(file, signer)
      const fromFile = yield* startAuth({ AUTH_PRIVATE_KEY_FILE: file })
      assert.deepStrictEqual(yield* kids(fromFile), [thumbprint])
      assert.isTrue(yield* verifies(fromFile, token), "a token verifies at any instance holding the key")

      const jwk = JSON.stringify(yield* Effect.promise(() => exportJWK(signerKey)))
      const fromJwk = yield* startAuth({ AUTH_PRIVATE_KEY: jwk })
      assert.deepStrictEqual(yield* kids(fromJwk), [thumbprint])
    }),
  )

  it.live("the original's RSA_PRIVATE_KEY and RSA_PUBLIC_KEY: tokens signed by either verify at the other", () =>
    Effect.gen(function* () {
      const pair = generateKeyPairSync("rsa", { modulusLength: 2048 })
      const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString()
      const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString()
      // The original auth-service's kid: SHA-256 of JSON.stringify({ e, kty, n }) of the public JWK.
      const jwk = createPublicKey(publicPem).export({ format: "jwk" })
      const originalKid = createHash("sha256")
        .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
        .digest("base64url")
      // A token as the original signs it (jsonwebtoken: RS256, issuer auth-service, keyid, 24 h).
      const now = Math.floor(Date.now() / 1000)
      const signedThere = yield* Effect.promise(() =>
        new SignJWT({ role: "user" })
          .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: originalKid })
          .setSubject("original-user-id")
          .setIssuer("auth-service")
          .setIssuedAt(now)
          .setExpirationTime(now + 24 * 3600)
          .sign(pair.privateKey),
      )
      const base = yield* startAuth({ RSA_PRIVATE_KEY: privatePem, RSA_PUBLIC_KEY: publicPem })
      assert.deepStrictEqual(yield* kids(base), [originalKid], "the same kid the original publishes")
      const verified = yield* call(base, "GET", "/verify", { headers: { authorization: `Bearer ${signedThere}` } })
      assert.strictEqual(verified.status, 200)
      assert.strictEqual(verified.headers.get("x-user-id"), "original-user-id")
      // And ours verifies as the original verifies (jsonwebtoken: RS256 and the issuer, with its public key).
      const database = yield* TestDatabase.freshDatabase("auth_rsa_env")
      const withAccounts = yield* startAuth({
        DATABASE_URL: database.href,
        RSA_PRIVATE_KEY: privatePem,
        RSA_PUBLIC_KEY: publicPem,
      })
      const signedHere = yield* tokenFrom(withAccounts, yield* signUp(withAccounts))
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        jwtVerify(signedHere, pair.publicKey, { algorithms: ["RS256"], issuer: "auth-service" }),
      )
      assert.strictEqual(protectedHeader.kid, originalKid)
      assert.isString(payload.sub)

      const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
        type: "spki",
        format: "pem",
      })
      const mismatch = yield* Effect.exit(startAuth({ RSA_PRIVATE_KEY: privatePem, RSA_PUBLIC_KEY: String(other) }))
      assert.isTrue(Exit.isFailure(mismatch))
      if (Exit.isFailure(mismatch)) assert.match(String(mismatch.cause), /RSA_PUBLIC_KEY: not the public half/)
      const both = yield* Effect.exit(startAuth({ RSA_PRIVATE_KEY: privatePem, AUTH_PRIVATE_KEY: privatePem }))
      assert.isTrue(Exit.isFailure(both))
      if (Exit.isFailure(both)) assert.match(String(both.cause), /set one of AUTH_PRIVATE_KEY and RSA_PRIVATE_KEY/)
    }),
  )

  it.live("a configured key that is not an RSA private key stops start-up with the reason", () =>
    Effect.gen(function* () {
      for (const [value, reason] of [
        ["not a key", /expected RSA private keys/],
        ['{"kty":"oct","k":"c2VjcmV0"}', /expected an RSA private key/],
        [
          generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }),
          /at least 2048 bits/,
        ],
      ] as const) {
        const exit = yield* Effect.exit(startAuth({ AUTH_PRIVATE_KEY: String(value) }))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.match(String(exit.cause), reason)
      }
    }),
  )

  it.live("without a database: accounts answer 503, tokens from configured keys still verify", () =>
    Effect.gen(function* () {
      const key = pem()
      const base = yield* startAuth({ AUTH_PRIVATE_KEY: key })
      for (const path of ["/auth/register", "/auth/login"]) {
        const answer = yield* call(base, "POST", path, credentials("ada@example.com", "correct horse battery"))
        assert.strictEqual(answer.status, 503)
        assert.deepStrictEqual(answer.body, { error: "database not configured" })
      }
      const [kid] = yield* kids(base)
      const now = Math.floor(Date.now() / 1000)
      const token = yield* Effect.promise(async () =>
        new SignJWT({ role: "admin" })
          .setProtectedHeader({ alg: "RS256", kid: kid ?? "" })
          .setSubject("user-1")
          .setIssuer("auth-service")
          .setExpirationTime(now + 60)
          .sign(await importPKCS8(key, "RS256")),
      )
      const verified = yield* call(base, "GET", "/verify", { headers: { authorization: `Bearer ${token}` } })
      assert.strictEqual(verified.status, 200)
      assert.strictEqual(verified.headers.get("x-user-role"), "admin")
      const health = yield* call(base, "GET", "/healthz")
      assert.strictEqual(health.text, "ok\n")
    }),
  )

  it.live("AUTH_ISSUER names the issuer of every token, and only that issuer verifies", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("auth_issuer")
      const base = yield* startAuth({ DATABASE_URL: database.href, AUTH_ISSUER: "https://id.example.com" })
      const token = yield* tokenFrom(base, yield* signUp(base))
      assert.strictEqual(decodeJwt(token).iss, "https://id.example.com")
      assert.isTrue(yield* verifies(base, token))
      const elsewhere = yield* startAuth({ DATABASE_URL: database.href })
      assert.isFalse(yield* verifies(elsewhere, token), "an auth-service issuer does not accept it")
      const discovery = yield* call(base, "GET", "/.well-known/openid-configuration")
      assert.strictEqual((discovery.body as { issuer: string }).issuer, "https://id.example.com")
    }),
  )

  it.live("a token stops verifying when it expires, even after it was verified (and remembered) before", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("auth_expiry")
      const base = yield* startAuth({ DATABASE_URL: database.href, AUTH_TOKEN_TTL_SECONDS: "2" })
      const token = yield* tokenFrom(base, yield* signUp(base))
      const claims = decodeJwt(token)
      assert.strictEqual((claims.exp ?? 0) - (claims.iat ?? 0), 2)
      assert.isTrue(yield* verifies(base, token))
      assert.isTrue(yield* verifies(base, token))
      yield* Effect.sleep("3 seconds")
      assert.isFalse(yield* verifies(base, token))
    }),
  )

  it.live("a login for an unknown email still runs one bcrypt comparison, as a known one does", () =>
    Effect.gen(function* () {
      const database = yield* TestDatabase.freshDatabase("auth_timing")
      const traced = yield* Layer.build(SpanRecorder.layer)
      const base = yield* TestServer.serve(App, { DATABASE_URL: database.href }, { around: traced })
      const recorder = Context.get(traced, SpanRecorder)
      const known = yield* signUp(base)
      const comparisons = (email: string) =>
        Effect.gen(function* () {
          yield* recorder.clear
          const answer = yield* call(base, "POST", "/auth/login", credentials(email, "wrong horse battery"))
          assert.strictEqual(answer.status, 401)
          const spans = yield* recorder.spans
          return spans.filter((span) => span.name === "Passwords.verify").length
        })
      assert.strictEqual(yield* comparisons(known), 1)
      assert.strictEqual(yield* comparisons(`nobody-${randomUUID()}@example.com`), 1)
      assert.strictEqual(yield* comparisons("not an email at all"), 1)
    }),
  )
})
