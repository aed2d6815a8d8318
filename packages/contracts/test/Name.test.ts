import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import fc from "fast-check"
import * as Name from "../src/Name.ts"

describe("Name", () => {
  it("the schema and `problem` agree on every string, and say the same thing", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.string({ maxLength: 300 })), (name) => {
        const decoded = Schema.decodeUnknownExit(Name.Name)(name)
        const problem = Name.problem(name)
        assert.strictEqual(decoded._tag === "Success", problem === undefined)
        if (problem !== undefined) assert.include(String(decoded), problem)
      }),
    )
  })

  it("refuses NUL, lone surrogates and more than 255 code points (not UTF-16 units)", () => {
    assert.include(Name.problem("a\u0000b"), "NUL")
    assert.include(Name.problem("\ud800"), "Unicode")
    assert.isUndefined(Name.problem("😀".repeat(255)))
    assert.include(Name.problem("é".repeat(256)), "at most 255")
  })
})
