import { Code } from "@connectrpc/connect"
import { assert, describe, it } from "@effect/vitest"
import { codeOfLangStatus } from "@platform/contracts/GatewayApi"
import * as RpcCode from "@platform/contracts/RpcCode"
import { BreakerRejected, Open, TooManyRequests } from "@platform/resilience/CircuitBreaker"
import { Duration } from "effect"
import { AttemptTimedOut, InvalidName, isRetryable, LangFailed, LangRejected } from "../src/errors.ts"
import { codeOf } from "../src/inbound/Connect.ts"
import { IdempotencyKeyInFlight, IdempotencyKeyReused, ReplayedFailure } from "../src/inbound/Idempotency.ts"

/** The Connect `Code` a failure answers with, as a client of the wire reads it. */
const wire = (name: RpcCode.RpcCode): Code => RpcCode.numberOf[name]

const open = new BreakerRejected({ breaker: "b", reason: new Open({ retryAfter: Duration.seconds(1) }) })
const tooMany = new BreakerRejected({ breaker: "b", reason: new TooManyRequests() })

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
      assert.strictEqual(wire(codeOfLangStatus(status)), code, String(status))
      assert.strictEqual(wire(codeOf(new LangRejected({ status, message: "" }))), code, String(status))
    }
  })

  it("breaker rejections are unavailable, timeouts deadline_exceeded, anything else internal", () => {
    assert.strictEqual(wire(codeOf(open)), Code.Unavailable)
    assert.strictEqual(wire(codeOf(tooMany)), Code.Unavailable)
    assert.strictEqual(wire(codeOf(new AttemptTimedOut({ message: "" }))), Code.DeadlineExceeded)
    assert.strictEqual(wire(codeOf(new LangFailed({ message: "refused" }))), Code.Internal)
    assert.strictEqual(wire(codeOf(new InvalidName({ message: "" }))), Code.InvalidArgument)
    assert.strictEqual(wire(codeOf(new IdempotencyKeyReused({ message: "" }))), Code.InvalidArgument)
    assert.strictEqual(wire(codeOf(new IdempotencyKeyInFlight({ message: "" }))), Code.Aborted)
    assert.strictEqual(wire(codeOf(new ReplayedFailure({ code: "not_found", message: "" }))), Code.NotFound)
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
    assert.isFalse(isRetryable(open))
  })
})
