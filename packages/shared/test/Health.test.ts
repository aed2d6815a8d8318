import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { DatabaseHealth, DatabaseUnavailable } from "../src/Database.ts"
import * as Health from "../src/Health.ts"
import * as Spool from "../src/Spool.ts"

/** The two ways the contract's services word it: plain text (Go), a JSON error body (Express). */
const answers = {
  connect: { healthy: "ok\n", unhealthy: { text: "db unhealthy\n" } },
  rest: { healthy: "ok\n", unhealthy: { json: { error: "db health check failed" } } },
} satisfies Record<string, Health.Answers>

const probe = (style: "connect" | "rest", database: Layer.Layer<DatabaseHealth>, path: string) =>
  Effect.promise(async () => {
    const { handler, dispose } = HttpRouter.toWebHandler(Health.layer(answers[style]).pipe(Layer.provide(database)), {
      disableLogger: true,
    })
    try {
      const response = await handler(new Request(`http://localhost${path}`))
      return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
    } finally {
      await dispose()
    }
  })

const down = Layer.succeed(DatabaseHealth, {
  enabled: true,
  check: Effect.fail(new DatabaseUnavailable({ message: "connection refused" })),
  ready: Effect.never,
  isReady: Effect.succeed(false),
})
const up = Layer.succeed(DatabaseHealth, {
  enabled: true,
  check: Effect.void,
  ready: Effect.void,
  isReady: Effect.succeed(true),
})

/** Liveness (the contract's `/healthz`) and readiness (`/readyz`) answer with the same status. */
const healthz = (style: "connect" | "rest", database: Layer.Layer<DatabaseHealth>) =>
  Effect.gen(function* () {
    const live = yield* probe(style, database, "/healthz")
    const ready = yield* probe(style, database, "/readyz")
    assert.strictEqual(ready.status, live.status)
    assert.match(ready.type ?? "", /^application\/json/)
    return live
  })

const readiness = Schema.decodeUnknownSync(Schema.fromJsonString(Health.Readiness))

describe("GET /healthz and /readyz", () => {
  for (const style of ["connect", "rest"] as const) {
    it.effect(`${style}: 200 ok\\n while the database answers, and without a database`, () =>
      Effect.gen(function* () {
        for (const database of [up, DatabaseHealth.disabled]) {
          const response = yield* healthz(style, database)
          assert.strictEqual(response.status, 200)
          assert.strictEqual(response.body, "ok\n")
        }
      }),
    )
  }

  it.effect("text: 503 db unhealthy\\n in plain text when the check fails", () =>
    Effect.gen(function* () {
      const response = yield* healthz("connect", down)
      assert.strictEqual(response.status, 503)
      assert.strictEqual(response.body, "db unhealthy\n")
      assert.match(response.type ?? "", /^text\/plain/)
    }),
  )

  it.effect('json: 503 {"error":"db health check failed"} when the check fails', () =>
    Effect.gen(function* () {
      const response = yield* healthz("rest", down)
      assert.strictEqual(response.status, 503)
      assert.strictEqual(response.body, '{"error":"db health check failed"}')
      assert.match(response.type ?? "", /^application\/json/)
    }),
  )

  it.effect("/readyz says why: the database's state and what each spool holds, from the metrics", () =>
    Effect.gen(function* () {
      const spool = { spool: `health-${Math.random().toString(36).slice(2)}` }
      yield* Metric.update(Metric.withAttributes(Spool.rowsSpooled, spool), 7)
      yield* Metric.update(Metric.withAttributes(Spool.rowsReplayed, spool), 3)
      yield* Metric.update(Metric.withAttributes(Spool.bytesOnDisk, spool), 512)
      const cases = [
        [up, 200, true, "up"],
        [down, 503, false, "down"],
        [DatabaseHealth.disabled, 200, true, "none"],
      ] as const
      for (const [database, status, ready, state] of cases) {
        const response = yield* probe("connect", database, "/readyz")
        assert.strictEqual(response.status, status)
        const body = readiness(response.body)
        assert.strictEqual(body.ready, ready)
        assert.strictEqual(body.database, state)
        assert.deepStrictEqual(body.spools[spool.spool], { rows: 7, replayed: 3, refused: 0, bytes: 512 })
      }
    }),
  )
})
