import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Failures counted per (email, client) and per client, not per email alone: an attacker's
 * guesses from elsewhere must not lock the owner out (OWASP's authentication cheat sheet).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE login_failures ADD COLUMN IF NOT EXISTS client varchar(64) NOT NULL DEFAULT ''`
  yield* sql`CREATE INDEX IF NOT EXISTS login_failures_client ON login_failures (client, failed_at)`
})
