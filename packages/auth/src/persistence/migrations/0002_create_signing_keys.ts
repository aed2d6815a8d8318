import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * RS256 signing keys shared by every replica. The newest signs; older ones stay published
 * while tokens they signed may still be valid.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS signing_keys (
      kid text PRIMARY KEY,
      private_jwk text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )
  `
})
