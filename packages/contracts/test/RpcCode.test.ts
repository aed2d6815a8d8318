import { Code } from "@connectrpc/connect"
import { codeToString } from "@connectrpc/connect/protocol-connect"
import { assert, describe, it } from "@effect/vitest"
import * as RpcCode from "../src/RpcCode.ts"

describe("RpcCode", () => {
  it("names and numbers every code exactly as Connect does, both ways", () => {
    const connectCodes = Object.values(Code).filter((value): value is Code => typeof value === "number")
    assert.strictEqual(RpcCode.RpcCode.literals.length, connectCodes.length)
    for (const code of connectCodes) {
      const name = RpcCode.fromNumber(code)
      assert.strictEqual(name, codeToString(code), String(code))
      assert.strictEqual(RpcCode.numberOf[name], code, name)
    }
    assert.strictEqual(RpcCode.fromNumber(99), "unknown")
  })
})
