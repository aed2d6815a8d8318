import { assert, describe, it } from "@effect/vitest"
import { endpointsOf, exampleOf } from "../src/dashboard/ApiExplorer.ts"

describe("ApiExplorer", () => {
  it("endpoints from an OpenAPI document: method, path, operation, a body to start from", () => {
    const doc = JSON.stringify({
      openapi: "3.1.0",
      paths: {
        "/invoke": {
          post: {
            operationId: "lang.invoke",
            requestBody: {
              content: {
                "application/json": {
                  schema: { anyOf: [{ type: "object", properties: { name: { type: "string" } } }, { type: "null" }] },
                },
              },
            },
          },
          parameters: [],
        },
        "/verify": { get: { operationId: "tokens.verify", summary: "forward-auth" } },
      },
    })
    assert.deepStrictEqual(endpointsOf("lang", doc), [
      {
        service: "lang",
        method: "POST",
        path: "/invoke",
        operationId: "lang.invoke",
        summary: "",
        example: '{\n  "name": ""\n}',
      },
      {
        service: "lang",
        method: "GET",
        path: "/verify",
        operationId: "tokens.verify",
        summary: "forward-auth",
        example: null,
      },
    ])
  })

  it("not an OpenAPI document: no endpoints; a schema without an object: no example", () => {
    assert.deepStrictEqual(endpointsOf("x", "<!doctype html>"), [])
    assert.deepStrictEqual(endpointsOf("x", '{"paths": 3}'), [])
    assert.isNull(exampleOf({ type: "string" }))
    assert.isNull(exampleOf(undefined))
  })
})
