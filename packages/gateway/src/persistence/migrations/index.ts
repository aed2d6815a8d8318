import type { Migrations } from "@platform/shared/Database"
import createInvocations from "./0001_create_invocations.ts"
import createIdempotencyKeys from "./0002_create_idempotency_keys.ts"

export const migrations: Migrations = {
  "0001_create_invocations": createInvocations,
  "0002_create_idempotency_keys": createIdempotencyKeys,
}
