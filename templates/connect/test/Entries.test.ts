import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import fc from "fast-check"
import { SpecimenConfig } from "../src/Config.ts"
import { Entries } from "../src/Entries.ts"
import { EntriesRepo, type EntryRow } from "../src/persistence/EntriesRepo.ts"

/** The domain on the memory layer: no server, no database. */
const domain = (rows: Array<EntryRow>) =>
  Entries.layer.pipe(
    Layer.provide(EntriesRepo.layerMemory(rows)),
    Layer.provide(SpecimenConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} }))))),
  )

describe("Entries (in memory)", () => {
  it.effect("property: any storable text is answered with its length and recorded once", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.string({ minLength: 1, maxLength: 1000, unit: "grapheme" }), async (text) => {
          fc.pre(!text.includes("\u0000"))
          const rows: Array<EntryRow> = []
          const entry = await Effect.runPromise(
            Effect.flatMap(Entries, (entries) => entries.create(text)).pipe(Effect.provide(domain(rows))),
          )
          assert.deepStrictEqual(entry, { text, length: text.length })
          assert.deepStrictEqual(rows, [{ text }])
        }),
        { numRuns: 50 },
      ),
    ),
  )

  it.effect("empty, NUL or broken Unicode is refused with the reason, and nothing is recorded", () =>
    Effect.gen(function* () {
      const rows: Array<EntryRow> = []
      for (const [text, reason] of [
        ["", "text: must not be empty"],
        ["a\u0000b", "text: must not contain NUL characters"],
        ["\ud800", "text: must be valid Unicode text"],
      ] as const) {
        const error = yield* Effect.flip(Effect.flatMap(Entries, (entries) => entries.create(text)))
        assert.strictEqual(error.message, reason)
      }
      assert.deepStrictEqual(rows, [])
    }).pipe(Effect.provide(domain([]))),
  )
})
