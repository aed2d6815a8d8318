import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import * as net from "node:net"
import { promisify } from "node:util"
import { assert, describe, it, layer } from "@effect/vitest"
import * as GreeterApp from "@platform/greeter/App"
import * as TestServer from "@platform/testkit/TestServer"
import { Context, Effect, Layer } from "effect"
import * as InProcess from "./InProcess.ts"

/**
 * gRPC server reflection and health as grpcurl and `buf curl` use them: no `.proto` files on the
 * client's side, the schema comes from the server.
 */

const buf = createRequire(import.meta.url).resolve("@bufbuild/buf/bin/buf")

/** `buf curl` over gRPC on h2c, as grpcurl -plaintext calls; the JSON it printed, or its error. */
const bufCurl = (args: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    try {
      const { stdout } = await promisify(execFile)(
        buf,
        ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args],
        {
          timeout: 30_000,
        },
      )
      return { ok: true as const, stdout }
    } catch (error) {
      return { ok: false as const, stdout: String((error as { stderr?: string }).stderr ?? error) }
    }
  })

class World extends Context.Service<World, InProcess.Platform>()("test/GrpcWorld") {}

const services = {
  greeter: "greeter.v1.GreeterService",
  caller: "caller.v1.CallerService",
  gateway: "gateway.v1.GatewayService",
} as const

layer(Layer.effect(World, InProcess.start({ log: () => {} })), { excludeTestServices: true, timeout: "60 seconds" })(
  "gRPC reflection and health",
  (it) => {
    for (const [name, service] of Object.entries(services) as Array<[keyof typeof services, string]>) {
      for (const version of ["grpc-v1", "grpc-v1alpha"]) {
        it.effect(`${name}: reflection (${version}) lists its service, health and reflection`, () =>
          Effect.gen(function* () {
            const world = yield* World
            const listed = yield* bufCurl(["--reflect-protocol", version, "--list-services", world.url[name]])
            assert.isTrue(listed.ok, listed.stdout)
            assert.sameMembers(listed.stdout.trim().split("\n"), [
              service,
              "grpc.health.v1.Health",
              "grpc.reflection.v1.ServerReflection",
              "grpc.reflection.v1alpha.ServerReflection",
            ])
          }),
        )
      }

      it.effect(`${name}: grpc.health.v1.Health/Check is SERVING, for the server and for ${service}`, () =>
        Effect.gen(function* () {
          const world = yield* World
          for (const asked of ["", service]) {
            const answer = yield* bufCurl([
              "--data",
              JSON.stringify({ service: asked }),
              `${world.url[name]}/grpc.health.v1.Health/Check`,
            ])
            assert.isTrue(answer.ok, answer.stdout)
            assert.deepStrictEqual(JSON.parse(answer.stdout), { status: "SERVING" })
          }
          const unknown = yield* bufCurl([
            "--data",
            '{"service":"no.such.Service"}',
            `${world.url[name]}/grpc.health.v1.Health/Check`,
          ])
          assert.isFalse(unknown.ok)
          assert.include(unknown.stdout, "not_found")
        }),
      )
    }

    it.effect("buf curl without a schema calls Greet over gRPC, and describes its methods", () =>
      Effect.gen(function* () {
        const world = yield* World
        const greeted = yield* bufCurl([
          "--data",
          '{"name":"Ada"}',
          `${world.url.greeter}/greeter.v1.GreeterService/Greet`,
        ])
        assert.isTrue(greeted.ok, greeted.stdout)
        const message = JSON.parse(greeted.stdout) as Record<string, unknown>
        assert.strictEqual(message.message, "Hello Ada from greeter-service!")
        assert.strictEqual(message.externalStatus, 200)
        const methods = yield* bufCurl(["--list-methods", `${world.url.greeter}`])
        assert.strictEqual(methods.stdout.split("\n").includes("greeter.v1.GreeterService/Greet"), true, methods.stdout)
        const invoked = yield* bufCurl([
          "--data",
          '{"name":"Grace"}',
          `${world.url.gateway}/gateway.v1.GatewayService/InvokeCustom`,
        ])
        assert.deepStrictEqual(JSON.parse(invoked.stdout), { message: "Hello Grace from custom-lang-service!" })
      }),
    )
  },
)

describe("gRPC health without the database", () => {
  it.live("NOT_SERVING while the database does not answer", () =>
    Effect.gen(function* () {
      const closed = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const probe = net.createServer().listen(0, "127.0.0.1", () => {
              const { port } = probe.address() as net.AddressInfo
              probe.close(() => resolve(port))
            })
          }),
      )
      const greeter = yield* TestServer.serve(GreeterApp, {
        DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/greeter_db`,
      })
      const answer = yield* bufCurl(["--data", "{}", `${greeter}/grpc.health.v1.Health/Check`])
      assert.isTrue(answer.ok, answer.stdout)
      assert.deepStrictEqual(JSON.parse(answer.stdout), { status: "NOT_SERVING" })
    }),
  )
})
