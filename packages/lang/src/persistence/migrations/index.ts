import type { Migrations } from "@platform/shared/Database"
import createExecutions from "./0001_create_executions.ts"

export const migrations: Migrations = {
  "0001_create_executions": createExecutions,
}
