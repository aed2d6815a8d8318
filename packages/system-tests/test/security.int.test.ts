import { generateKeyPairSync } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as AuthApp from "@platform/auth/App"
import * as CallerApp from "@platform/caller/App"
import * as EdgeApp from "@platform/edge/App"
import * as GatewayApp from "@platform/gateway/App"
import * as LangApp from "@platform/lang/App"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect, type Scope } from "effect"
import { calculateJwkThumbprint, exportJWK, importPKCS8, SignJWT } from "jose"

/**
 * The attack pass, kept: each case an attacker tried against the running platform on loopback,
 * and what must hold. Services run in this process, so open files and memory are this process's.
 */

const openFiles = () => fs.readdirSync("/proc/self/fd").length

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const portOf = (url: string) => Number(new URL(url).port)

/** A raw connection that sends `parts` with `gapMs` between them; resolves what came back and when the server closed. */
const trickle = (port: number, parts: ReadonlyArray<string>, gapMs: number) =>
  new Promise<{ readonly answer: string; readonly closedAfterMs: number }>((resolve) => {
    const started = Date.now()
    const socket = net.connect(port, "127.0.0.1")
    let answer = ""
    let index = 0
    const timer = setInterval(() => {
      if (index < parts.length && socket.writable) socket.write(parts[index++] as string)
    }, gapMs)
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1")
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      clearInterval(timer)
      resolve({ answer, closedAfterMs: Date.now() - started })
    })
  })

const metricLines = (base: string, prefix: string) =>
  Effect.promise(async () => {
    const text = await (await fetch(`${base}/metrics`)).text()
    return text.split("\n").filter((line) => line.startsWith(prefix))
  })

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

describe("security: connections", () => {
  it.live("1,000 clients that send the HTTP/2 preface and close leave the open-file count flat", () =>
    Effect.gen(function* () {
      const lang = yield* TestServer.serve(LangApp, { HTTP_HEADERS_TIMEOUT_MS: "1000" })
      const port = portOf(lang)
      const before = openFiles()
      for (let batch = 0; batch < 10; batch++) {
        yield* Effect.promise(() =>
          Promise.all(
            Array.from(
              { length: 100 },
              () =>
                new Promise<void>((resolve) => {
                  const socket = net.connect(port, "127.0.0.1", () => socket.end(PREFACE))
                  // Read what the server sends (its SETTINGS), or the close would never be seen.
                  socket.resume()
                  socket.on("error", () => resolve())
                  socket.on("close", () => resolve())
                }),
            ),
          ),
        )
      }
      yield* Effect.promise(() => sleep(1500))
      const after = openFiles()
      assert.isBelow(after - before, 20, `open files ${before} -> ${after}`)
      assert.strictEqual(yield* Effect.promise(() => fetch(`${lang}/healthz`).then((r) => r.status)), 200)
    }),
  )

  it.live("slow clients are cut off within the configured times, and counted", () =>
    Effect.gen(function* () {
      const lang = yield* TestServer.serve(LangApp, {
        HTTP_HEADERS_TIMEOUT_MS: "1000",
        HTTP_REQUEST_TIMEOUT_MS: "1500",
        HTTP_IDLE_TIMEOUT_MS: "1500",
        HTTP2_IDLE_TIMEOUT_MS: "1500",
      })
      const port = portOf(lang)
      const [headers, body, silent] = yield* Effect.promise(() =>
        Promise.all([
          // Headers one piece every 400 ms: never finished.
          trickle(port, "POST /invoke HTTP/1.1\r\nHost: x\r\nX-A: b\r\nX-C: d\r\n".match(/.{1,4}/gs) ?? [], 400),
          // Complete headers, then a body of 100 bytes at a byte every 400 ms.
          trickle(
            port,
            [
              "POST /invoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
              ..."{".repeat(50),
            ],
            400,
          ),
          // Nothing at all.
          trickle(port, [], 400),
        ]),
      )
      assert.match(headers.answer, /^HTTP\/1\.1 408/, "headers too slow: 408")
      assert.isBelow(headers.closedAfterMs, 3500)
      assert.match(body.answer, /^HTTP\/1\.1 408/, "body too slow: 408")
      assert.isBelow(body.closedAfterMs, 4000)
      assert.isBelow(silent.closedAfterMs, 3000)
      // An idle h2c session gets its GOAWAY and is closed.
      const h2 = yield* Effect.promise(
        () =>
          new Promise<{ readonly goaway: boolean; readonly closedAfterMs: number }>((resolve) => {
            const started = Date.now()
            const session = http2.connect(lang)
            let goaway = false
            session.on("goaway", () => {
              goaway = true
            })
            session.on("error", () => {})
            session.on("close", () => resolve({ goaway, closedAfterMs: Date.now() - started }))
          }),
      )
      assert.isTrue(h2.goaway, "GOAWAY before the close")
      assert.isBelow(h2.closedAfterMs, 4000)
      const counted = yield* metricLines(lang, "http_server_connections_closed_total")
      const count = (reason: string) =>
        Number(
          counted
            .find((line) => line.includes(`reason="${reason}"`))
            ?.split(" ")
            .at(-1) ?? 0,
        )
      assert.isAtLeast(count("request_timeout"), 2, counted.join("\n"))
      assert.isAtLeast(count("unclassified_timeout"), 1)
      assert.isAtLeast(count("http2_idle_timeout"), 1)
    }),
  )

  it.live("2,000 requests with made-up methods add no metric series", () =>
    Effect.gen(function* () {
      const lang = yield* TestServer.serve(LangApp, {})
      const before = (yield* metricLines(lang, "http_server_requests_total{")).length
      yield* Effect.promise(async () => {
        const session = http2.connect(lang)
        for (let batch = 0; batch < 20; batch++) {
          await Promise.all(
            Array.from(
              { length: 100 },
              (_, i) =>
                new Promise<void>((resolve) => {
                  const stream = session.request({ ":method": `M${batch}X${i}`, ":path": "/invoke" })
                  stream.on("error", () => resolve())
                  stream.on("close", () => resolve())
                  stream.resume()
                  stream.end()
                }),
            ),
          )
        }
        session.close()
      })
      const after = yield* metricLines(lang, "http_server_requests_total{")
      assert.isAtMost(after.length - before, 2, after.join("\n"))
      assert.isTrue(after.some((line) => line.includes('method="_OTHER"')))
    }),
  )
})

/** Streams `bytes` of request body from one reused buffer: the client itself allocates nothing. */
const hugeRequest = (url: string, bytes: number, headers: Record<string, string>) =>
  new Promise<{ readonly status: number; readonly body: string; readonly sent: number }>((resolve) => {
    const target = new URL(url)
    const chunk = Buffer.alloc(1024 * 1024, "a")
    let sent = 0
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { ...headers, "content-length": String(bytes) },
      },
      (response) => {
        let body = ""
        response.on("data", (part) => {
          body += part
        })
        response.on("end", () => {
          request.destroy()
          resolve({ status: response.statusCode ?? 0, body, sent })
        })
      },
    )
    request.on("error", () => resolve({ status: 0, body: "", sent }))
    const pump = () => {
      while (sent < bytes && request.write(chunk)) sent += chunk.length
      if (sent < bytes) request.once("drain", pump)
      else request.end()
    }
    pump()
  })

describe("security: size limits", () => {
  it.live("a 200 MiB RPC is refused before it is read, directly and through the edge, without memory growth", () =>
    Effect.gen(function* () {
      const lang = yield* TestServer.serve(LangApp, {})
      const gateway = yield* TestServer.serve(GatewayApp, { CUSTOM_LANG_BASE_URL: lang })
      const caller = yield* TestServer.serve(CallerApp, {})
      const edge = yield* TestServer.serve(EdgeApp, { EDGE_GATEWAY_URL: gateway, EDGE_AUTH_URL: lang })
      global.gc?.()
      const before = process.memoryUsage().rss
      const size = 200 * 1024 * 1024
      const direct = yield* Effect.promise(() =>
        hugeRequest(`${gateway}/gateway.v1.GatewayService/InvokeCustom`, size, { "content-type": "application/json" }),
      )
      assert.include(direct.body, "resource_exhausted", `${direct.status} ${direct.body}`)
      assert.isBelow(direct.sent, size, "answered before the body was sent")
      const rpc = yield* Effect.promise(() =>
        hugeRequest(`${caller}/rpc`, size, { "content-type": "application/json" }),
      )
      assert.oneOf(rpc.status, [400, 413], rpc.body)
      const viaEdge = yield* Effect.promise(() =>
        hugeRequest(`${edge}/gateway.v1.GatewayService/InvokeCustom`, size, { "content-type": "application/json" }),
      )
      assert.strictEqual(viaEdge.status, 413, viaEdge.body)
      const grown = (process.memoryUsage().rss - before) / 1024 / 1024
      assert.isBelow(grown, 100, `rss grew ${grown.toFixed(0)} MiB`)
    }),
  )

  it.live("Expect: 100-continue goes through the edge; announced too large, it is refused before the body", () =>
    Effect.gen(function* () {
      const lang = yield* TestServer.serve(LangApp, {})
      const edge = yield* TestServer.serve(EdgeApp, { EDGE_AUTH_URL: lang })
      const expect = (length: number) =>
        Effect.promise(
          () =>
            new Promise<number>((resolve) => {
              const target = new URL(`${edge}/auth/register`)
              const body = JSON.stringify({ email: "a@example.com", password: "correct horse battery" })
              const request = http.request({
                host: target.hostname,
                port: target.port,
                path: target.pathname,
                method: "POST",
                headers: {
                  "content-type": "application/json",
                  expect: "100-continue",
                  "content-length": String(length),
                },
              })
              request.on("continue", () => request.end(body))
              request.on("response", (response) => {
                response.resume()
                resolve(response.statusCode ?? 0)
              })
              request.on("error", () => resolve(0))
            }),
        )
      // lang stands in for auth here: it answers 404 to /auth/register, proving the request reached it.
      assert.strictEqual(
        yield* expect(JSON.stringify({ email: "a@example.com", password: "correct horse battery" }).length),
        404,
      )
      assert.strictEqual(yield* expect(100 * 1024 * 1024), 413)
    }),
  )
})

/** An upstream that answers 200 and remembers the headers it was sent. */
const captureServer = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{
        readonly url: string
        readonly seen: Array<http.IncomingHttpHeaders>
        readonly server: http.Server
      }>((resolve) => {
        const seen: Array<http.IncomingHttpHeaders> = []
        const server = http.createServer((request, response) => {
          seen.push(request.headers)
          response.end("ok")
        })
        server.listen(0, "127.0.0.1", () =>
          resolve({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen, server }),
        )
      }),
  ),
  ({ server }) => Effect.promise(() => new Promise((resolve) => server.close(resolve))),
)

describe("security: malformed RPC bodies", () => {
  it.live(
    "a body that is not the message is invalid_argument (400) in every protocol, as connect-go says, not internal",
    () =>
      Effect.gen(function* () {
        const lang = yield* TestServer.serve(LangApp, {})
        const gateway = yield* TestServer.serve(GatewayApp, { CUSTOM_LANG_BASE_URL: lang })
        const path = "/gateway.v1.GatewayService/InvokeCustom"
        // Field 1 announced as a string 127 bytes long, with 2 bytes after it.
        const garbage = Buffer.from([0x0a, 0x7f, 0x41, 0x42])
        const connect = yield* Effect.promise(() =>
          fetch(`${gateway}${path}`, {
            method: "POST",
            headers: { "content-type": "application/proto" },
            body: garbage,
          }),
        )
        assert.strictEqual(connect.status, 400)
        assert.strictEqual(((yield* Effect.promise(() => connect.json())) as { code: string }).code, "invalid_argument")

        const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage])
        const grpcStatus = yield* Effect.promise(
          () =>
            new Promise<string | undefined>((resolve, reject) => {
              const session = http2.connect(gateway)
              session.on("error", reject)
              const stream = session.request({
                ":method": "POST",
                ":path": path,
                "content-type": "application/grpc+proto",
                te: "trailers",
              })
              let status: string | undefined
              stream.on("response", (headers) => {
                if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"])
              })
              stream.on("trailers", (trailers) => {
                status = String(trailers["grpc-status"])
              })
              stream.on("data", () => {})
              stream.on("close", () => {
                session.close()
                resolve(status)
              })
              stream.end(framed)
            }),
        )
        assert.strictEqual(grpcStatus, "3", "gRPC INVALID_ARGUMENT")

        const web = yield* Effect.promise(() =>
          fetch(`${gateway}${path}`, {
            method: "POST",
            headers: { "content-type": "application/grpc-web+proto" },
            body: framed,
          }),
        )
        const trailer = Buffer.from(yield* Effect.promise(() => web.arrayBuffer())).toString("latin1")
        assert.match(trailer, /grpc-status:\s*3/)
      }),
  )
})

describe("security: forwarding headers", () => {
  const forged = {
    "x-forwarded-for": "6.6.6.6",
    "x-forwarded-host": "evil.example",
    "x-forwarded-proto": "https",
    "x-real-ip": "6.6.6.6",
  }

  it.live("a client's X-Forwarded-* never reach an upstream: they are replaced", () =>
    Effect.gen(function* () {
      const upstream = yield* captureServer
      const edge = yield* TestServer.serve(EdgeApp, { EDGE_AUTH_URL: upstream.url })
      yield* Effect.promise(() => fetch(`${edge}/auth/anything`, { headers: forged }).then((r) => r.text()))
      const seen = upstream.seen.at(-1) ?? {}
      assert.strictEqual(seen["x-forwarded-for"], "127.0.0.1")
      assert.strictEqual(seen["x-real-ip"], "127.0.0.1")
      assert.strictEqual(seen["x-forwarded-proto"], "http")
      assert.strictEqual(seen["x-forwarded-host"], new URL(edge).host)
    }),
  )

  it.live("from a proxy in EDGE_TRUSTED_PROXIES, the chain is extended and names the client", () =>
    Effect.gen(function* () {
      const upstream = yield* captureServer
      const edge = yield* TestServer.serve(EdgeApp, { EDGE_AUTH_URL: upstream.url, EDGE_TRUSTED_PROXIES: "127.0.0.1" })
      yield* Effect.promise(() => fetch(`${edge}/auth/anything`, { headers: forged }).then((r) => r.text()))
      const seen = upstream.seen.at(-1) ?? {}
      assert.strictEqual(seen["x-forwarded-for"], "6.6.6.6, 127.0.0.1")
      assert.strictEqual(seen["x-real-ip"], "6.6.6.6")
      assert.strictEqual(seen["x-forwarded-proto"], "https")
    }),
  )

  it.live("the edge's /metrics is not served to the public; // is a 404, not a 500", () =>
    Effect.gen(function* () {
      const edge = yield* TestServer.serve(EdgeApp, { EDGE_METRICS_ALLOW: "10.0.0.0/8" })
      assert.strictEqual(yield* Effect.promise(() => fetch(`${edge}/metrics`).then((r) => r.status)), 404)
      const loopback = yield* TestServer.serve(EdgeApp, {})
      assert.strictEqual(yield* Effect.promise(() => fetch(`${loopback}/metrics`).then((r) => r.status)), 200)
      const slashes = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            http.get({ host: "127.0.0.1", port: portOf(edge), path: "//" }, (response) => {
              response.resume()
              resolve(response.statusCode ?? 0)
            })
          }),
      )
      assert.isBelow(slashes, 500)
    }),
  )
})

describe("security: caller and internal addresses", () => {
  it.live("every internal address is permission_denied, naming why; a DNS name for loopback too", () =>
    Effect.gen(function* () {
      const caller = yield* TestServer.serve(CallerApp, {})
      const internal = [
        "http://127.0.0.1:9090/metrics",
        "http://localhost/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://127.1/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://user:pw@127.0.0.1/",
      ]
      for (const url of internal) {
        const answer = yield* Effect.promise(async () => {
          const response = await fetch(`${caller}/caller.v1.CallerService/CallExternal`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ url }),
          })
          return (await response.json()) as { code?: string; message?: string }
        })
        assert.strictEqual(answer.code, "permission_denied", `${url}: ${JSON.stringify(answer)}`)
        assert.match(answer.message ?? "", /address/, url)
      }
    }),
  )
})

/** A key auth signs with, given to it, so that the test can sign what an attacker with a stolen key could. */
const signingKey = () =>
  generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  })

const authWithDatabase = (env: Record<string, string> = {}): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const database = yield* TestDatabase.freshDatabase("security_auth")
    return yield* TestServer.serve(AuthApp, { DATABASE_URL: database.href, ...env })
  })

describe("security: auth", () => {
  it.live("/verify with a CR LF in a signed claim answers 401 within a second", () =>
    Effect.gen(function* () {
      const pem = signingKey()
      const auth = yield* TestServer.serve(AuthApp, { AUTH_PRIVATE_KEY: pem })
      const token = yield* Effect.promise(async () => {
        const key = await importPKCS8(pem, "RS256", { extractable: true })
        const jwk = await exportJWK(key)
        const kid = await calculateJwkThumbprint({ kty: "RSA", n: jwk.n ?? "", e: jwk.e ?? "" })
        return new SignJWT({ role: "user" })
          .setProtectedHeader({ alg: "RS256", kid })
          .setSubject("user\r\nX-Injected: yes")
          .setIssuer("auth-service")
          .setIssuedAt()
          .setExpirationTime("1h")
          .sign(key)
      })
      const started = Date.now()
      const status = yield* Effect.promise(() =>
        fetch(`${auth}/verify`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(5000),
        }).then(
          (response) => response.status,
          () => 0,
        ),
      )
      assert.strictEqual(status, 401)
      assert.isBelow(Date.now() - started, 1000)
    }),
  )

  it.live("50 concurrent wrong passwords: 5 are checked, the rest throttled, the right one among them too", () =>
    Effect.gen(function* () {
      const auth = yield* authWithDatabase()
      const account = { email: "target@example.com", password: "correct horse battery" }
      yield* Effect.promise(() => post(`${auth}/auth/register`, account))
      const statuses = yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            post(`${auth}/auth/login`, {
              email: account.email,
              password: i === 25 ? account.password : `guess ${i}`,
            }).then((response) => response.status),
          ),
        ),
      )
      const checked = statuses.filter((status) => status !== 429).length
      assert.isAtMost(checked, 5, statuses.join(","))
      assert.strictEqual(statuses.filter((status) => status === 429).length, 50 - checked)
    }),
  )

  it.live("wrong passwords from 8 other addresses do not stop the owner's correct login", () =>
    Effect.gen(function* () {
      const auth = yield* authWithDatabase()
      const account = { email: "owner@example.com", password: "correct horse battery" }
      yield* Effect.promise(() => post(`${auth}/auth/register`, account))
      yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: 8 * 5 }, (_, i) =>
            post(
              `${auth}/auth/login`,
              { email: account.email, password: `guess ${i}` },
              // auth trusts the loopback proxy's X-Real-Ip, as it does the edge's.
              { "x-real-ip": `203.0.113.${i % 8}` },
            ).then((response) => response.status),
          ),
        ),
      )
      const owner = yield* Effect.promise(() =>
        post(`${auth}/auth/login`, account, { "x-real-ip": "198.51.100.20" }).then((response) => response.status),
      )
      assert.strictEqual(owner, 200)
    }),
  )

  it.live("two refreshes at once: the session is revoked, no successor survives (30 runs)", () =>
    Effect.gen(function* () {
      const auth = yield* authWithDatabase()
      const account = { email: "refresh@example.com", password: "correct horse battery" }
      yield* Effect.promise(() => post(`${auth}/auth/register`, account))
      for (let run = 0; run < 30; run++) {
        const session = (yield* Effect.promise(() =>
          post(`${auth}/auth/login`, account).then((response) => response.json()),
        )) as { refreshToken: string }
        const both = (yield* Effect.promise(() =>
          Promise.all(
            [0, 1].map(() =>
              post(`${auth}/auth/refresh`, { refreshToken: session.refreshToken }).then(async (response) => ({
                status: response.status,
                body: (await response.json()) as { refreshToken?: string },
              })),
            ),
          ),
        )) as Array<{ status: number; body: { refreshToken?: string } }>
        for (const answer of both.filter((candidate) => candidate.status === 200)) {
          const again = yield* Effect.promise(() =>
            post(`${auth}/auth/refresh`, { refreshToken: answer.body.refreshToken }).then(
              (response) => response.status,
            ),
          )
          assert.strictEqual(again, 401, `run ${run}: a successor survived the reuse`)
        }
      }
    }),
  )

  it.live("an over-long or NUL email is a 4xx, never a 5xx", () =>
    Effect.gen(function* () {
      const auth = yield* authWithDatabase()
      for (const email of [`${"a".repeat(400)}@example.com`, "a\u0000b@example.com"]) {
        for (const path of ["/auth/register", "/auth/login"]) {
          const status = yield* Effect.promise(() =>
            post(`${auth}${path}`, { email, password: "correct horse battery" }).then((response) => response.status),
          )
          assert.isBelow(status, 500, `${path} ${JSON.stringify(email.slice(0, 12))}`)
          assert.isAtLeast(status, 400)
        }
      }
    }),
  )
})
