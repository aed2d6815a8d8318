import { assert, describe, it } from "@effect/vitest"
import * as ErrorBody from "@platform/contracts/ErrorBody"
import * as RestApi from "@platform/shared/RestApi"
import { ConfigProvider, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { HttpApiTest } from "effect/http-api"
import { SpecimenApi } from "../src/Api.ts"
import { SpecimenConfig } from "../src/Config.ts"
import { Entries } from "../src/Entries.ts"
import { EntriesHttp } from "../src/inbound/Http.ts"
import { EntriesRepo, type EntryRow } from "../src/persistence/EntriesRepo.ts"

/**
 * specimen's handlers through its contract's own client, in memory: no server, no database. The
 * integration test checks the same over HTTP and PostgreSQL.
 */
const inMemory = (rows: Array<EntryRow>, env: Record<string, string> = {}) =>
  EntriesHttp.pipe(
    Layer.provide(Entries.layer),
    Layer.provide(EntriesRepo.layerMemory(rows)),
    Layer.provide(SpecimenConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))),
    Layer.provideMerge(RestApi.requestValidation(ErrorBody.RequestValidation, ErrorBody.validation)),
    Layer.provideMerge(HttpServer.layerServices),
  )

const client = (rows: Array<EntryRow>, env?: Record<string, string>) =>
  HttpApiTest.groups(SpecimenApi, ["entries"]).pipe(Effect.provide(inMemory(rows, env)))

describe("specimen's handlers (in memory)", () => {
  it.effect("an entry is answered with its length and recorded", () =>
    Effect.gen(function* () {
      const rows: Array<EntryRow> = []
      const specimen = yield* client(rows)
      assert.deepStrictEqual(yield* specimen.entries.create({ payload: { text: "héllo" } }), {
        text: "héllo",
        length: 5,
      })
      assert.deepStrictEqual(rows, [{ text: "héllo" }])
    }),
  )

  it.effect("an entry over SPECIMEN_MAX_TEXT_LENGTH is refused and not recorded", () =>
    Effect.gen(function* () {
      const rows: Array<EntryRow> = []
      const specimen = yield* client(rows, { SPECIMEN_MAX_TEXT_LENGTH: "3" })
      const error = yield* Effect.flip(specimen.entries.create({ payload: { text: "four" } }))
      assert.strictEqual(error._tag, "InvalidRequest")
      assert.deepStrictEqual(rows, [])
    }),
  )
})
