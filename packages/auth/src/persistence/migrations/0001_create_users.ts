import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** The contract's `users` table; kept as it is when auth takes over an existing auth_db. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email varchar(255) UNIQUE NOT NULL,
      password_hash text NOT NULL,
      role varchar(50) NOT NULL DEFAULT 'user',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `
  // Logins look emails up without their case.
  yield* sql`CREATE INDEX IF NOT EXISTS users_email_lower ON users (lower(email))`
})
