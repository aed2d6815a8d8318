import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** The contract's `call_logs` table. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS call_logs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      url text NOT NULL,
      status_code int NOT NULL,
      body_length int NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
