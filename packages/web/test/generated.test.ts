import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Generated from "@platform/shared/testing/Generated"

const root = fileURLToPath(new URL("..", import.meta.url))

describe("the console's generated clients", () => {
  it("are what `pnpm --dir packages/web generate` makes from the protos now", async () => {
    const freshness = await Generated.compare(root, "src/gen")
    assert.deepStrictEqual(freshness.committed, freshness.generated, "the same files")
    assert.deepStrictEqual(freshness.stale, [], "stale: run pnpm --dir packages/web generate")
  }, 60_000)
})
