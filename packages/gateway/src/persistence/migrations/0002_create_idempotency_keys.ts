import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** Outcomes of calls made with an `Idempotency-Key`, replayed when the key comes again. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS idempotency_keys (
      key text PRIMARY KEY,
      name varchar(255) NOT NULL,
      done boolean NOT NULL DEFAULT false,
      success boolean,
      code int,
      message text,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
