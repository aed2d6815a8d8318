import { assert, describe, it } from "@effect/vitest"
import * as AuthApp from "@platform/auth/App"
import * as GatewayApp from "@platform/gateway/App"
import * as LangApp from "@platform/lang/App"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect } from "effect"

/** What an OpenAPI 3 document says, as far as a client generator reads it. */
interface Document {
  readonly openapi: string
  readonly paths: Record<string, Record<string, unknown>>
}

const documentOf = (base: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}/openapi.json`)
    return { status: response.status, document: (await response.json()) as Document }
  })

const operations = (document: Document) =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods)
      .filter((method) => ["get", "post", "put", "delete", "patch"].includes(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  )

describe("every REST service documents its contract", () => {
  it.live("lang, auth and the gateway serve /openapi.json (OpenAPI 3, every contract endpoint) and /docs", () =>
    Effect.gen(function* () {
      const lang = yield* TestServer.serve(LangApp, {})
      const auth = yield* TestServer.serve(AuthApp, {})
      const gateway = yield* TestServer.serve(GatewayApp, { CUSTOM_LANG_BASE_URL: lang })
      const expected = {
        [lang]: ["POST /invoke"],
        [auth]: [
          "POST /auth/register",
          "POST /auth/login",
          "POST /auth/refresh",
          "POST /auth/logout",
          "GET /verify",
          "GET /.well-known/jwks.json",
          "GET /.well-known/openid-configuration",
        ],
        [gateway]: ["GET /resilience"],
      }
      for (const [base, endpoints] of Object.entries(expected)) {
        const { status, document } = yield* documentOf(base)
        assert.strictEqual(status, 200)
        assert.match(document.openapi, /^3\./)
        assert.sameMembers(operations(document), endpoints, base)
        const docs = yield* Effect.promise(() =>
          fetch(`${base}/docs`).then(async (response) => ({
            status: response.status,
            type: response.headers.get("content-type") ?? "",
            body: await response.text(),
          })),
        )
        assert.strictEqual(docs.status, 200)
        assert.match(docs.type, /^text\/html/)
        assert.include(docs.body, "<script")
      }
    }),
  )
})
