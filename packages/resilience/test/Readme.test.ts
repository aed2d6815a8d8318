import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Readme from "@platform/testkit/Readme"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

describe("README", () => {
  it("the example runs as written and prints what the README says", async () => {
    const { code, output } = Readme.example(packageDir)
    assert.strictEqual(await Readme.run(packageDir, code), output)
  }, 30_000)
})
