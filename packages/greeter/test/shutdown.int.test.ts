import { fileURLToPath } from "node:url"
import { Code, ConnectError, createClient } from "@connectrpc/connect"
import { createGrpcTransport } from "@connectrpc/connect-node"
import { assert, describe, it } from "@effect/vitest"
import * as ExternalStub from "@platform/platform/ExternalStub"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { freePort, start } from "@platform/testkit/Processes"
import { Effect } from "effect"

const callerMain = fileURLToPath(new URL("../../caller/src/main.ts", import.meta.url))
const greeterMain = fileURLToPath(new URL("../src/main.ts", import.meta.url))

describe("greeter stopping with calls still running", () => {
  it.live("past SHUTDOWN_TIMEOUT_MS each call is answered unavailable in its protocol, one JSON line each", () =>
    Effect.gen(function* () {
      const stub = yield* Effect.acquireRelease(
        Effect.promise(() => ExternalStub.start()),
        (stub) => Effect.promise(stub.close),
      )
      const [callerPort, greeterPort] = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
      const caller = start(callerMain, {
        PORT: String(callerPort),
        CALLER_ALLOW_PRIVATE_NETWORKS: "true",
        CALLER_TIMEOUT_MS: "10000",
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => caller.child.kill("SIGTERM")))
      const greeter = start(greeterMain, {
        PORT: String(greeterPort),
        CALLER_BASE_URL: `http://127.0.0.1:${callerPort}`,
        EXTERNAL_API_URL: `${stub.url}/slow/5000`,
        GREETER_CALLER_TIMEOUT_MS: "10000",
        SHUTDOWN_TIMEOUT_MS: "500",
        LOG_LEVEL: "info",
      })
      yield* Effect.promise(() =>
        Promise.all([caller.waitFor((l) => l.message === "ready"), greeter.waitFor((l) => l.message === "ready")]),
      )
      const base = `http://127.0.0.1:${greeterPort}`
      const json = Array.from({ length: 3 }, () =>
        fetch(`${base}/greeter.v1.GreeterService/Greet`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "late" }),
        }).then(async (response) => ({ status: response.status, body: await response.text() })),
      )
      const grpc = createClient(GreeterService, createGrpcTransport({ baseUrl: base }))
        .greet({ name: "late" })
        .then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        )
      yield* Effect.sleep("300 millis")
      greeter.child.kill("SIGTERM")
      const answers = yield* Effect.promise(() => Promise.all(json))
      const grpcError = yield* Effect.promise(() => grpc)
      assert.strictEqual(yield* Effect.promise(() => greeter.exited), 0)
      for (const answer of answers) {
        assert.deepStrictEqual(answer, {
          status: 503,
          body: '{"code":"unavailable","message":"the service is shutting down: the call did not finish in time"}',
        })
      }
      assert.strictEqual(grpcError?.code, Code.Unavailable)
      assert.strictEqual(grpcError?.rawMessage, "the service is shutting down: the call did not finish in time")
      const said = greeter.lines.filter(
        (line) =>
          line.message ===
          "greeter.v1.GreeterService/Greet answered unavailable: the service stopped before it finished",
      )
      assert.strictEqual(said.length, 4, "one JSON line per call")
      assert.strictEqual(greeter.stderr().trim(), "", "no stack traces")
    }),
  )
})
