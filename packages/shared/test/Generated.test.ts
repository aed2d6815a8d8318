import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Generated from "@platform/testkit/Generated"

describe("gRPC health and reflection messages", () => {
  it("the committed generated code is what `pnpm --dir packages/shared generate` makes now", async () => {
    const freshness = await Generated.compare(fileURLToPath(new URL("..", import.meta.url)), "src/gen")
    assert.deepStrictEqual(freshness.committed, freshness.generated, "the same files")
    assert.deepStrictEqual(freshness.stale, [], "stale: run pnpm --dir packages/shared generate")
  })
})
