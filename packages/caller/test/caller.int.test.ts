import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { CallerRpcs } from "@platform/contracts/CallerRpcs"
import * as ExternalStub from "@platform/platform/ExternalStub"
import * as Deadline from "@platform/shared/Deadline"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Context, Duration, Effect, Layer } from "effect"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { SqlClient } from "effect/sql"
import * as App from "../src/App.ts"

class Stub extends Context.Service<Stub, ExternalStub.ExternalStub>()("test/Stub") {}

const CallerUnderTest = Layer.unwrap(
  Effect.gen(function* () {
    const database = yield* TestDatabase.freshDatabase("caller_test")
    const stub = yield* Effect.acquireRelease(
      Effect.promise(() => ExternalStub.start()),
      (stub) => Effect.promise(stub.close),
    )
    return Layer.mergeAll(
      TestServer.layer(App, {
        DATABASE_URL: database.href,
        CALLER_TIMEOUT_MS: "1000",
        CALLER_MAX_BODY_BYTES: String(1024 * 1024),
        // The stub is on loopback; the default refusal is tested on its own below.
        CALLER_ALLOW_PRIVATE_NETWORKS: "true",
        // Small enough to fill in a test; the tests above call one at a time.
        CALLER_MAX_CONCURRENT: "2",
        CALLER_MAX_QUEUED: "1",
      }),
      TestDatabase.sqlClient(database),
      Layer.succeed(Stub, stub),
    )
  }),
)

/** CallExternal as a browser sends it: Connect JSON over HTTP/1.1. */
const callExternal = (url: string) =>
  Effect.gen(function* () {
    const base = yield* TestServer.baseUrl
    return yield* Effect.promise(async () => {
      const response = await fetch(`${base}/caller.v1.CallerService/CallExternal`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ url }),
      })
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    })
  })

const stubUrl = (path: string) => Effect.map(Stub, (stub) => `${stub.url}${path}`)

const rowsFor = (url: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ status_code: number; body_length: number }>`
      SELECT status_code, body_length FROM call_logs WHERE url = ${url}`,
  )

/** The row is written after the answer: wait for it a little. */
const eventuallyRows = (url: string, count: number) =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 50; attempt++) {
      const rows = yield* rowsFor(url)
      if (rows.length >= count) return rows
      yield* Effect.sleep("20 millis")
    }
    return yield* rowsFor(url)
  })

layer(CallerUnderTest, { excludeTestServices: true, timeout: "60 seconds" })(
  "caller over HTTP and PostgreSQL",
  (it) => {
    describe("CallExternal (Connect)", () => {
      it.effect("any HTTP status is a successful call with the exact body length, and is logged", () =>
        Effect.gen(function* () {
          for (const [path, status, length] of [
            ["/", 200, ExternalStub.HOME_PAGE.length],
            ["/status/404", 404, "status 404\n".length],
            ["/status/500", 500, "status 500\n".length],
            ["/bytes/300000", 200, 300_000],
          ] as const) {
            const url = yield* stubUrl(path)
            const answer = yield* callExternal(url)
            assert.strictEqual(answer.status, 200, path)
            assert.deepStrictEqual(answer.body, { statusCode: status, bodyLength: length }, path)
            assert.deepStrictEqual(yield* eventuallyRows(url, 1), [{ status_code: status, body_length: length }])
          }
        }),
      )

      it.effect("the contract's codes: invalid_argument, deadline_exceeded, unavailable, resource_exhausted", () =>
        Effect.gen(function* () {
          const cases: ReadonlyArray<[string, string, number]> = [
            ["not a url", "invalid_argument", 400],
            ["mailto:someone@example.com", "invalid_argument", 400],
            [yield* stubUrl("/slow/3000"), "deadline_exceeded", 504],
            ["http://127.0.0.1:1/", "unavailable", 503],
            [yield* stubUrl(`/bytes/${2 * 1024 * 1024}`), "resource_exhausted", 429],
            ["http://169.254.169.254/latest/meta-data/", "permission_denied", 403],
            [yield* stubUrl(`/redirect?to=${encodeURIComponent("http://169.254.169.254/")}`), "permission_denied", 403],
          ]
          for (const [url, code, status] of cases) {
            const answer = yield* callExternal(url)
            assert.strictEqual(answer.body.code, code, url)
            assert.strictEqual(answer.status, status, url)
            assert.isString(answer.body.message)
            assert.strictEqual((yield* rowsFor(url)).length, 0, "only answered calls are logged")
          }
        }),
      )

      it.effect("a bulkhead: 2 fetches run, 1 waits, the rest are refused at once with resource_exhausted", () =>
        Effect.gen(function* () {
          const url = yield* stubUrl("/slow/400")
          const answers = yield* Effect.all(
            Array.from({ length: 5 }, () => Effect.timed(callExternal(url))),
            { concurrency: "unbounded" },
          )
          const refused = answers.filter(([, answer]) => answer.status !== 200)
          assert.strictEqual(answers.length - refused.length, 3)
          for (const [took, answer] of refused) {
            assert.deepStrictEqual(answer, {
              status: 429,
              body: {
                code: "resource_exhausted",
                message: "external URLs: 2 calls running and 1 waiting, no room for more",
              },
            })
            assert.isBelow(Duration.toMillis(took), 300, "refused at once")
          }
          assert.strictEqual((yield* eventuallyRows(url, 3)).length, 3, "the refused calls are not logged")
        }),
      )

      it.effect("redirects are followed to the final answer", () =>
        Effect.gen(function* () {
          const target = yield* stubUrl("/status/201")
          const answer = yield* callExternal(yield* stubUrl(`/redirect?to=${encodeURIComponent(target)}`))
          assert.deepStrictEqual(answer.body, { statusCode: 201, bodyLength: "status 201\n".length })
        }),
      )
    })

    describe("CallExternal (Effect RPC on /rpc, what greeter uses)", () => {
      it.effect("answers and fails with the same typed values", () =>
        Effect.gen(function* () {
          const base = yield* TestServer.baseUrl
          const client = yield* RpcClient.make(CallerRpcs).pipe(
            Effect.provide(
              RpcClient.layerProtocolHttp({ url: `${base}/rpc` }).pipe(
                Layer.provide([NodeHttpClient.layerUndici, RpcSerialization.layerJson]),
              ),
            ),
          )
          const url = yield* stubUrl("/status/418")
          assert.deepStrictEqual(yield* client.CallExternal({ url }), { statusCode: 418, bodyLength: 11 })
          const error = yield* Effect.flip(client.CallExternal({ url: "nope" }))
          assert.strictEqual(error._tag, "InvalidUrl")
          assert.deepStrictEqual(yield* eventuallyRows(url, 1), [{ status_code: 418, body_length: 11 }])

          // The caller's deadline, sent on as x-request-timeout-ms (Deadline.sendOnRpc): the fetch
          // gets what is left of it, not CALLER_TIMEOUT_MS (1 s here).
          const slow = yield* stubUrl("/slow/3000")
          const [took, timedOut] = yield* Effect.timed(
            Effect.flip(client.CallExternal({ url: slow })).pipe(Deadline.sendOnRpc, Deadline.within(250)),
          )
          assert.strictEqual(timedOut._tag, "ExternalTimeout")
          assert.isTrue(
            Duration.toMillis(took) >= 200 && Duration.toMillis(took) < 700,
            `answered after ${Duration.toMillis(took)} ms`,
          )
          const spent = yield* Effect.flip(
            client.CallExternal({ url: slow }).pipe(RpcClient.withHeaders({ [Deadline.HEADER]: "0" })),
          )
          assert.strictEqual(spent._tag, "ExternalTimeout", "no time left: not fetched at all")
          assert.include(spent.message, "the deadline passed before the call could be sent")
        }),
      )
    })
  },
)
