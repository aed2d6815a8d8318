import { Code, ConnectError } from "@connectrpc/connect"
import { assert, describe, it } from "@effect/vitest"
import { EmailTaken, InvalidCredentials, TooManyAttempts } from "@platform/contracts/AuthApi"
import { InvalidRequest } from "@platform/contracts/ErrorBody"
import { HttpClientError } from "effect/http"
import { describe as sentence } from "../src/clients/ErrorMessage.ts"

describe("ErrorMessage.describe", () => {
  it("a Connect error: its code as the wire names it, and its message", () => {
    assert.strictEqual(
      sentence(new ConnectError("circuit breaker is open", Code.Unavailable)),
      "unavailable: circuit breaker is open",
    )
    assert.strictEqual(
      sentence(new ConnectError("custom-lang-service returned 404", Code.NotFound)),
      "not_found: custom-lang-service returned 404",
    )
    assert.strictEqual(sentence(new ConnectError("", Code.DeadlineExceeded)), "deadline_exceeded")
  })

  it("the edge's 502 names the service that did not answer", () => {
    const refused = new ConnectError("HTTP 502", Code.Unavailable, new Headers({ "x-edge-unreachable": "greeter" }))
    assert.strictEqual(sentence(refused), "greeter is not answering: the edge got no answer from it (HTTP 502)")
    // Traefik's own 502 names nobody: the code and message, as any other.
    assert.strictEqual(sentence(new ConnectError("HTTP 502", Code.Unavailable)), "unavailable: HTTP 502")
  })

  it("auth's errors: the contract's texts", () => {
    assert.strictEqual(sentence(new InvalidCredentials()), "invalid email or password")
    assert.strictEqual(sentence(new EmailTaken()), "email already exists")
    assert.strictEqual(
      sentence(new InvalidRequest({ error: "email must be a valid address" })),
      "email must be a valid address",
    )
    assert.strictEqual(sentence(new TooManyAttempts({ retryAfterSeconds: 42 })), "too many attempts: try again in 42 s")
  })

  it("no answer at all says so", () => {
    const request = { method: "GET", url: "http://localhost:30081/resilience" } as never
    const error = new HttpClientError.HttpClientError({
      reason: new HttpClientError.TransportError({ request, cause: new TypeError("fetch failed") }),
    })
    assert.strictEqual(sentence(error), "the platform did not answer: is it running?")
    assert.strictEqual(sentence(undefined), "something went wrong")
  })
})
