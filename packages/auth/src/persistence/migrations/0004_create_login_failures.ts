import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** Failed logins per email, in the database so that every replica counts the same attempts. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS login_failures (
      id bigserial PRIMARY KEY,
      email varchar(255) NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT now()
    )
  `
  yield* sql`CREATE INDEX IF NOT EXISTS login_failures_email ON login_failures (email, failed_at)`
})
