import { execFile } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as Generated from "@platform/testkit/Generated"
import { CallExternalRequestSchema, CallExternalResponseSchema, CallerService } from "../gen/caller/v1/caller_pb.ts"
import { GatewayService, InvokeCustomRequestSchema, InvokeCustomResponseSchema } from "../gen/gateway/v1/gateway_pb.ts"
import { GreeterService, GreetRequestSchema, GreetResponseSchema } from "../gen/greeter/v1/greeter_pb.ts"

const root = fileURLToPath(new URL("..", import.meta.url))
const repository = fileURLToPath(new URL("../..", import.meta.url))
const bin = (name: string) => join(root, "node_modules", ".bin", name)
const run = (command: string, args: ReadonlyArray<string>, cwd = root) =>
  promisify(execFile)(command, [...args], {
    cwd,
    env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` },
  })

/** The contract's field names and tags, message by message (CONTRACT.md). */
const fields = (schema: { fields: ReadonlyArray<{ name: string; number: number }> }) =>
  schema.fields.map((field) => [field.name, field.number])

describe("the .proto contract", () => {
  it("packages, services, methods and field tags are the contract's", () => {
    assert.strictEqual(GreeterService.typeName, "greeter.v1.GreeterService")
    assert.strictEqual(CallerService.typeName, "caller.v1.CallerService")
    assert.strictEqual(GatewayService.typeName, "gateway.v1.GatewayService")
    assert.deepStrictEqual(
      [GreeterService, CallerService, GatewayService].map((service) =>
        service.methods.map((m) => [m.name, m.methodKind]),
      ),
      [[["Greet", "unary"]], [["CallExternal", "unary"]], [["InvokeCustom", "unary"]]],
    )
    assert.deepStrictEqual(fields(GreetRequestSchema), [["name", 1]])
    assert.deepStrictEqual(fields(GreetResponseSchema), [
      ["message", 1],
      ["external_status", 2],
      ["external_body_length", 3],
    ])
    assert.deepStrictEqual(fields(CallExternalRequestSchema), [["url", 1]])
    assert.deepStrictEqual(fields(CallExternalResponseSchema), [
      ["status_code", 1],
      ["body_length", 2],
    ])
    assert.deepStrictEqual(fields(InvokeCustomRequestSchema), [["name", 1]])
    assert.deepStrictEqual(fields(InvokeCustomResponseSchema), [["message", 1]])
  })

  it("buf lint passes", async () => {
    const { stdout, stderr } = await run(bin("buf"), ["lint"])
    assert.strictEqual(stdout + stderr, "")
  })

  it("the committed generated code is what `pnpm generate` makes now", async () => {
    const freshness = await Generated.compare(root, "gen")
    assert.deepStrictEqual(freshness.committed, freshness.generated, "the same files")
    assert.deepStrictEqual(freshness.stale, [], "stale: run pnpm --dir proto-compat generate")
  })

  it("no wire-breaking change against the protos as first committed, nor against HEAD", async () => {
    const { stdout: first } = await run(
      "git",
      ["log", "--diff-filter=A", "--format=%H", "--", "proto-compat/proto/greeter/v1/greeter.proto"],
      repository,
    )
    const introduced = first.trim().split("\n").at(-1)
    assert.match(introduced ?? "", /^[0-9a-f]{40}$/, "the history of the protos is available")
    for (const ref of [introduced, "HEAD"]) {
      const against = `${join(repository, ".git")}#ref=${ref},subdir=proto-compat/proto`
      const { stdout, stderr } = await run(bin("buf"), ["breaking", "proto", "--against", against])
      assert.strictEqual(stdout + stderr, "", `against ${ref}`)
    }
  })
})
