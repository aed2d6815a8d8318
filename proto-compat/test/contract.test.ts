import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { assert, describe, it } from "@effect/vitest"
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

const files = (directory: string): Array<string> =>
  readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry)
    return statSync(path).isDirectory() ? files(path) : [path]
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
    const out = mkdtempSync(join(tmpdir(), "proto-gen-"))
    await run(bin("buf"), ["generate", "--output", out])
    const fresh = files(join(out, "gen"))
      .map((path) => relative(join(out, "gen"), path))
      .sort()
    const committed = files(join(root, "gen"))
      .map((path) => relative(join(root, "gen"), path))
      .sort()
    assert.deepStrictEqual(committed, fresh, "the same files")
    for (const file of fresh) {
      assert.strictEqual(
        readFileSync(join(root, "gen", file), "utf8"),
        readFileSync(join(out, "gen", file), "utf8"),
        `${file} is stale: run pnpm generate`,
      )
    }
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
