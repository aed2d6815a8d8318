import { fileURLToPath } from "node:url"
import { assert, describe, layer } from "@effect/vitest"
import * as ExternalStub from "@platform/platform/ExternalStub"
import { freePort, service } from "@platform/testkit/Processes"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { type Answer, clients, grpcUnknownMethod, unknownMethod } from "./clients.ts"

/**
 * caller and greeter as a user starts them (`node src/main.ts`, i.e. `pnpm --dir packages/X
 * start`), each on its own database, with a loopback stand-in for the external API, called by
 * clients we did not write.
 */
const callerMain = fileURLToPath(new URL("../../packages/caller/src/main.ts", import.meta.url))
const greeterMain = fileURLToPath(new URL("../../packages/greeter/src/main.ts", import.meta.url))

interface Platform {
  readonly stub: ExternalStub.ExternalStub
  readonly caller: string
  readonly greeter: string
  /** greeter asking caller to fetch "not a url". */
  readonly greeterBadUrl: string
  /** greeter whose caller is not there. */
  readonly greeterNoCaller: string
  /** greeter whose external API answers after 5 s, past the 2 s deadline. */
  readonly greeterSlow: string
  /** greeter whose external API answers after 1.5 s: for client deadlines shorter than that. */
  readonly greeterSlowish: string
  /** greeter whose external API answers after 4 s: for clients that cancel. */
  readonly greeterCancel: string
  readonly callerDatabase: URL
  readonly greeterDatabase: URL
}
class PlatformUnderTest extends Context.Service<PlatformUnderTest, Platform>()("test/Platform") {}

const PlatformLive = Layer.effect(
  PlatformUnderTest,
  Effect.gen(function* () {
    const stub = yield* Effect.acquireRelease(
      Effect.promise(() => ExternalStub.start()),
      (stub) => Effect.promise(stub.close),
    )
    const callerDatabase = yield* TestDatabase.freshDatabase("compat_caller")
    const greeterDatabase = yield* TestDatabase.freshDatabase("compat_greeter")
    const caller = yield* service(callerMain, {
      DATABASE_URL: callerDatabase.href,
      // The stub is on loopback.
      CALLER_ALLOW_PRIVATE_NETWORKS: "true",
    })
    const greeterWith = (env: Record<string, string>) =>
      service(greeterMain, { CALLER_BASE_URL: caller, EXTERNAL_API_URL: stub.url, ...env })
    const [greeter, greeterBadUrl, greeterNoCaller, greeterSlow, greeterSlowish, greeterCancel] = yield* Effect.all(
      [
        greeterWith({ DATABASE_URL: greeterDatabase.href }),
        greeterWith({ EXTERNAL_API_URL: "not a url" }),
        greeterWith({ CALLER_BASE_URL: `http://127.0.0.1:${yield* Effect.promise(freePort)}` }),
        greeterWith({ EXTERNAL_API_URL: `${stub.url}/slow/5000` }),
        greeterWith({ EXTERNAL_API_URL: `${stub.url}/slow/1500` }),
        greeterWith({ EXTERNAL_API_URL: `${stub.url}/slow/4000` }),
      ],
      { concurrency: "unbounded" },
    )
    return {
      stub,
      caller,
      greeter,
      greeterBadUrl,
      greeterNoCaller,
      greeterSlow,
      greeterSlowish,
      greeterCancel,
      callerDatabase,
      greeterDatabase,
    }
  }),
)

const failed = (answer: Answer) => (answer.ok ? "ok" : answer.code)

const count = (database: URL, table: "greetings" | "call_logs", where: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)} WHERE ${sql.unsafe(where)}`,
  ).pipe(
    Effect.map((rows) => rows[0]?.n ?? 0),
    Effect.provide(TestDatabase.sqlClient(database)),
  )

layer(PlatformLive, { excludeTestServices: true, concurrent: true, timeout: "120 seconds" })(
  "wire compatibility",
  (it) => {
    describe.each(clients)("$name", (client) => {
      it.effect("Greet: the exact fields, and one greetings row", () =>
        Effect.gen(function* () {
          const platform = yield* PlatformUnderTest
          const name = `Ada (${client.name})`
          const answer = yield* Effect.promise(() =>
            client.call(platform.greeter, { service: "greeter.v1.GreeterService", method: "Greet", request: { name } }),
          )
          assert.deepStrictEqual(answer, {
            ok: true,
            message: {
              message: `Hello ${name} from greeter-service!`,
              externalStatus: 200,
              externalBodyLength: ExternalStub.HOME_PAGE.length,
            },
          })
          const quoted = name.replaceAll("'", "''")
          assert.strictEqual(yield* count(platform.greeterDatabase, "greetings", `name = '${quoted}'`), 1)
        }),
      )

      it.effect("Greet with an empty name greets World", () =>
        Effect.gen(function* () {
          const platform = yield* PlatformUnderTest
          const answer = yield* Effect.promise(() =>
            client.call(platform.greeter, {
              service: "greeter.v1.GreeterService",
              method: "Greet",
              request: { name: "" },
            }),
          )
          assert.isTrue(answer.ok)
          if (answer.ok) assert.strictEqual(answer.message.message, "Hello World from greeter-service!")
        }),
      )

      it.effect("CallExternal: the exact fields, and a call_logs row", () =>
        Effect.gen(function* () {
          const platform = yield* PlatformUnderTest
          const url = `${platform.stub.url}/status/404?client=${encodeURIComponent(client.name)}`
          const answer = yield* Effect.promise(() =>
            client.call(platform.caller, {
              service: "caller.v1.CallerService",
              method: "CallExternal",
              request: { url },
            }),
          )
          assert.deepStrictEqual(answer, { ok: true, message: { statusCode: 404, bodyLength: "status 404\n".length } })
          let rows = 0
          for (let i = 0; i < 50 && rows === 0; i++) {
            rows = yield* count(platform.callerDatabase, "call_logs", `url = '${url.replaceAll("'", "''")}'`)
            if (rows === 0) yield* Effect.sleep("20 millis")
          }
          assert.strictEqual(rows, 1)
        }),
      )

      it.effect("the contract's failures: invalid_argument passed through, unavailable, deadline_exceeded", () =>
        Effect.gen(function* () {
          const platform = yield* PlatformUnderTest
          const greet = (base: string) =>
            client.call(base, { service: "greeter.v1.GreeterService", method: "Greet", request: { name: "x" } })
          const [badUrl, noCaller, slow, invalid] = yield* Effect.promise(() =>
            Promise.all([
              greet(platform.greeterBadUrl),
              greet(platform.greeterNoCaller),
              greet(platform.greeterSlow),
              client.call(platform.caller, {
                service: "caller.v1.CallerService",
                method: "CallExternal",
                request: { url: "not a url" },
              }),
            ]),
          )
          assert.strictEqual(failed(badUrl), "invalid_argument", "caller's code through greeter")
          assert.strictEqual(failed(invalid), "invalid_argument", "caller directly")
          assert.strictEqual(failed(noCaller), "unavailable")
          assert.strictEqual(failed(slow), "deadline_exceeded")
        }),
      )
    })

    it.effect("a client deadline shorter than the work: deadline_exceeded, and the work is cancelled", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        // Only this test calls greeterSlowish, so every fetch of /slow/1500 is one of these calls.
        const answers = yield* Effect.promise(() =>
          Promise.all(
            clients.map((client) =>
              client.call(platform.greeterSlowish, {
                service: "greeter.v1.GreeterService",
                method: "Greet",
                request: { name: "hurried" },
                // Short of the external API's 1.5 s, long enough to reach it with every file's
                // servers sharing two cores: the point is the cancel, not the race to get there.
                timeoutMs: 1000,
              }),
            ),
          ),
        )
        assert.deepStrictEqual(
          answers.map(failed),
          clients.map(() => "deadline_exceeded"),
        )
        // greeter's fiber was interrupted, so was its call to caller, so was caller's fetch: the
        // external API saw each client leave before it answered.
        yield* Effect.sleep("1500 millis")
        const fetches = platform.stub.seen.filter((seen) => seen.path === "/slow/1500")
        // A call whose deadline passed before it reached the external API was cancelled earlier
        // still: under load some do. Every fetch that started was abandoned, none answered.
        assert.isAtLeast(fetches.length, 1)
        assert.isAtMost(fetches.length, clients.length)
        assert.isTrue(
          fetches.every((seen) => seen.aborted && !seen.answered),
          JSON.stringify(fetches),
        )
      }),
    )

    it.effect("a client that cancels (no deadline) interrupts the work all the way to the external call", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        const controller = new AbortController()
        const call = fetch(`${platform.greeterCancel}/greeter.v1.GreeterService/Greet`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "impatient" }),
          signal: controller.signal,
        }).catch((error: Error) => error.name)
        yield* Effect.sleep("300 millis")
        controller.abort()
        assert.strictEqual(yield* Effect.promise(() => call), "AbortError")
        // Well before greeter's own 2 s deadline could have ended it.
        yield* Effect.sleep("700 millis")
        const fetches = platform.stub.seen.filter((seen) => seen.path === "/slow/4000")
        assert.strictEqual(fetches.length, 1)
        assert.isTrue(fetches[0]?.aborted, JSON.stringify(fetches))
      }),
    )

    it.effect("an unknown method is unimplemented, on every protocol", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        for (const protocol of ["connect", "grpc", "grpcweb"] as const) {
          assert.strictEqual(
            failed(yield* Effect.promise(() => unknownMethod(platform.greeter, protocol))),
            "unimplemented",
            protocol,
          )
        }
        assert.strictEqual(failed(yield* Effect.promise(() => grpcUnknownMethod(platform.greeter))), "unimplemented")
        const response = yield* Effect.promise(() =>
          fetch(`${platform.greeter}/greeter.v1.GreeterService/Nope`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{}",
          }),
        )
        assert.strictEqual(response.status, 404)
      }),
    )

    it.effect("a wrong content type is 415", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        for (const base of [platform.greeter, platform.caller]) {
          const path =
            base === platform.greeter ? "greeter.v1.GreeterService/Greet" : "caller.v1.CallerService/CallExternal"
          const response = yield* Effect.promise(() =>
            fetch(`${base}/${path}`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }),
          )
          assert.strictEqual(response.status, 415)
        }
      }),
    )

    it.effect("/healthz of both services answers ok", () =>
      Effect.gen(function* () {
        const platform = yield* PlatformUnderTest
        for (const base of [platform.greeter, platform.caller]) {
          const response = yield* Effect.promise(() => fetch(`${base}/healthz`))
          assert.strictEqual(yield* Effect.promise(() => response.text()), "ok\n")
        }
      }),
    )
  },
)
