import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Ports from "../src/Ports.ts"

const extra = [["the external API stand-in", 8099] as const]
const refusal = (raw: string) => Effect.map(Effect.flip(Ports.offsetFrom(raw, extra)), (error) => error.message)

describe("PLATFORM_PORT_OFFSET", () => {
  it.effect("any offset whose ports exist; 3000 puts lang on 6000, a port fetch refuses, and that is fine", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* Ports.offsetFrom(undefined, extra), 0)
      assert.strictEqual(yield* Ports.offsetFrom("3000", extra), 3000)
      assert.strictEqual(yield* Ports.offsetFrom("2000", extra), 2000, "greeter on 10080, a port fetch refuses")
    }),
  )

  it.effect("one sentence for an offset it cannot use", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        yield* refusal("40000"),
        "PLATFORM_PORT_OFFSET=40000 puts edge on port 70081, beyond 65535; choose an offset below 35455",
      )
      assert.strictEqual(yield* refusal("two"), 'PLATFORM_PORT_OFFSET must be a whole number, not "two"')
    }),
  )
})
