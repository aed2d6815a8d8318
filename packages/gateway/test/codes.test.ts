import { Code } from "@connectrpc/connect"
import { assert, describe, it } from "@effect/vitest"
import { BreakerOpen, BreakerTooManyRequests } from "@platform/shared/resilience/CircuitBreaker"
import {
  AttemptTimedOut,
  codeOf,
  codeOfStatus,
  IdempotencyKeyInFlight,
  IdempotencyKeyReused,
  InvalidName,
  isRetryable,
  LangFailed,
  LangRejected,
  ReplayedFailure,
} from "../src/Api.ts"

describe("the contract's error-to-code table", () => {
  it("every lang status maps as the contract says", () => {
    const table: ReadonlyArray<[number, Code]> = [
      [400, Code.InvalidArgument],
      [401, Code.Unauthenticated],
      [403, Code.PermissionDenied],
      [404, Code.NotFound],
      [409, Code.AlreadyExists],
      [429, Code.ResourceExhausted],
      [502, Code.Unavailable],
      [503, Code.Unavailable],
      [504, Code.DeadlineExceeded],
      [500, Code.Internal],
      [501, Code.Internal],
      [505, Code.Internal],
      [599, Code.Internal],
      [402, Code.Unknown],
      [405, Code.Unknown],
      [418, Code.Unknown],
      [422, Code.Unknown],
    ]
    for (const [status, code] of table) {
      assert.strictEqual(codeOfStatus(status), code, String(status))
      assert.strictEqual(codeOf(new LangRejected({ status, message: "" })), code, String(status))
    }
  })

  it("breaker rejections are unavailable, timeouts deadline_exceeded, anything else internal", () => {
    assert.strictEqual(codeOf(new BreakerOpen({ name: "b" })), Code.Unavailable)
    assert.strictEqual(codeOf(new BreakerTooManyRequests({ name: "b" })), Code.Unavailable)
    assert.strictEqual(codeOf(new AttemptTimedOut({ message: "" })), Code.DeadlineExceeded)
    assert.strictEqual(codeOf(new LangFailed({ message: "refused" })), Code.Internal)
    assert.strictEqual(codeOf(new InvalidName({ message: "" })), Code.InvalidArgument)
    assert.strictEqual(codeOf(new IdempotencyKeyReused({ message: "" })), Code.InvalidArgument)
    assert.strictEqual(codeOf(new IdempotencyKeyInFlight({ message: "" })), Code.Aborted)
    assert.strictEqual(codeOf(new ReplayedFailure({ code: Code.NotFound, message: "" })), Code.NotFound)
  })

  it("retryable: 429, 502, 503, 504 and network timeouts; nothing else", () => {
    for (let status = 400; status < 600; status++) {
      assert.strictEqual(
        isRetryable(new LangRejected({ status, message: "" })),
        [429, 502, 503, 504].includes(status),
        String(status),
      )
    }
    assert.isTrue(isRetryable(new AttemptTimedOut({ message: "" })))
    assert.isFalse(isRetryable(new LangFailed({ message: "" })))
    assert.isFalse(isRetryable(new BreakerOpen({ name: "b" })))
  })
})
