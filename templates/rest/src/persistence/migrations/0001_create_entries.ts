import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** `id uuid` as the kernel's batched insert expects: it gives each row its id. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS entries (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      text text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `
})
