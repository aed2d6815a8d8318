import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** The contract's `executions` table, exactly. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS executions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name varchar(255) NOT NULL,
      result_message text,
      status_code int NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
