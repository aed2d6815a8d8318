import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Refresh tokens, stored only as SHA-256 hashes. A family is one login's chain of rotations:
 * presenting a used token again revokes the whole family.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS refresh_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      family_id uuid NOT NULL,
      token_hash bytea UNIQUE NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      revoked_at timestamptz
    )
  `
  yield* sql`CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id)`
})
