import type { Migrations } from "@platform/shared/Database"
import createUsers from "./0001_create_users.ts"
import createSigningKeys from "./0002_create_signing_keys.ts"
import createRefreshTokens from "./0003_create_refresh_tokens.ts"
import createLoginFailures from "./0004_create_login_failures.ts"
import loginFailuresByClient from "./0005_login_failures_by_client.ts"
import refreshTokensRevoked from "./0006_refresh_tokens_revoked.ts"

export const migrations: Migrations = {
  "0001_create_users": createUsers,
  "0002_create_signing_keys": createSigningKeys,
  "0003_create_refresh_tokens": createRefreshTokens,
  "0004_create_login_failures": createLoginFailures,
  "0005_login_failures_by_client": loginFailuresByClient,
  "0006_refresh_tokens_revoked": refreshTokensRevoked,
}
