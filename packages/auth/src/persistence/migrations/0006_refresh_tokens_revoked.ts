import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** Every replica reads the sessions revoked since its last look, every second: by `revoked_at`. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE INDEX IF NOT EXISTS refresh_tokens_revoked ON refresh_tokens (revoked_at)
    WHERE revoked_at IS NOT NULL
  `
})
