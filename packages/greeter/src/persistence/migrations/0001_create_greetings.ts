import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** The contract's `greetings` table. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS greetings (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name varchar(255) NOT NULL,
      message text NOT NULL,
      external_status int,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
