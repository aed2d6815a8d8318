import { assert, describe, it } from "@effect/vitest"
import * as ErrorBody from "@platform/contracts/ErrorBody"
import { LangApi } from "@platform/contracts/LangApi"
import * as RestApi from "@platform/shared/RestApi"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder, HttpApiTest } from "effect/http-api"
import { LangHttp } from "../src/inbound/Http.ts"
import { Lang } from "../src/Lang.ts"
import { type Execution, ExecutionsRepo } from "../src/persistence/ExecutionsRepo.ts"

/**
 * lang's handlers through its contract's own client, in memory: no server, no database. The
 * integration suite checks the same behaviour over HTTP and PostgreSQL.
 */
const inMemory = (rows: Array<Execution>) =>
  LangHttp.pipe(
    Layer.provide(Lang.layer),
    Layer.provide(ExecutionsRepo.layerMemory(rows)),
    Layer.provideMerge(RestApi.requestValidation(ErrorBody.RequestValidation, ErrorBody.validation)),
    Layer.provideMerge(HttpServer.layerServices),
  )

const client = (rows: Array<Execution>) => HttpApiTest.groups(LangApi, ["lang"]).pipe(Effect.provide(inMemory(rows)))

describe("lang's handlers (in memory)", () => {
  it.effect("the contract's table: each special name its error and status, any other a greeting; each recorded", () =>
    Effect.gen(function* () {
      const rows: Array<Execution> = []
      const lang = yield* client(rows)
      const table = [
        ["unauthorized", "Unauthorized", 401],
        ["forbidden", "Forbidden", 403],
        ["notfound", "NotFound", 404],
        ["conflict", "Conflict", 409],
        ["ratelimit", "RateLimited", 429],
        ["unavailable", "Unavailable", 503],
      ] as const
      for (const [name, tag] of table) {
        const error = yield* Effect.flip(lang.lang.invoke({ payload: { name } }))
        assert.strictEqual(error._tag, tag, name)
      }
      assert.deepStrictEqual(yield* lang.lang.invoke({ payload: { name: "Ada" } }), {
        message: "Hello Ada from custom-lang-service!",
      })
      assert.deepStrictEqual(yield* lang.lang.invoke({ payload: {} }), {
        message: "Hello World from custom-lang-service!",
      })
      assert.deepStrictEqual(rows, [
        ...table.map(([name, , status]) => ({ name, result_message: null, status_code: status })),
        { name: "Ada", result_message: "Hello Ada from custom-lang-service!", status_code: 200 },
        { name: "World", result_message: "Hello World from custom-lang-service!", status_code: 200 },
      ])
    }),
  )

  it.effect("malformed input is the contract's 400 with what is wrong, never a 5xx; nothing is recorded", () =>
    Effect.gen(function* () {
      const rows: Array<Execution> = []
      const app = HttpApiBuilder.layer(LangApi).pipe(Layer.provide(inMemory(rows)))
      const { handler, dispose } = HttpRouter.toWebHandler(app, { disableLogger: true })
      yield* Effect.addFinalizer(() => Effect.promise(dispose))
      const post = (body: string) =>
        Effect.promise(async () => {
          const response = await handler(
            new Request("http://lang/invoke", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body,
            }),
          )
          return { status: response.status, body: (await response.json()) as { error?: string } }
        })
      for (const [body, problem] of [
        [JSON.stringify({ name: "a\u0000b" }), "NUL"],
        [JSON.stringify({ name: "é".repeat(256) }), "at most 255"],
        [JSON.stringify({ name: 42 }), "must be a string"],
        ["{not json", "not valid JSON"],
      ] as const) {
        const response = yield* post(body)
        assert.strictEqual(response.status, 400, body)
        assert.include(response.body.error, problem)
      }
      assert.deepStrictEqual(rows, [])
    }),
  )

  it.effect("a recording failure is logged and the answer still goes out", () =>
    Effect.gen(function* () {
      const failing = Layer.succeed(ExecutionsRepo, { insert: () => Effect.die(new Error("database is down")) })
      const lang = yield* Effect.flatMap(Lang, (service) => service.invoke("Ada")).pipe(
        Effect.provide(Lang.layer.pipe(Layer.provide(failing))),
      )
      assert.strictEqual(lang, "Hello Ada from custom-lang-service!")
    }),
  )
})
