import type { Migrations } from "@platform/shared/Database"
import createCallLogs from "./0001_create_call_logs.ts"

export const migrations: Migrations = {
  "0001_create_call_logs": createCallLogs,
}
