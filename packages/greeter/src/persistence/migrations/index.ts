import type { Migrations } from "@platform/shared/Database"
import createGreetings from "./0001_create_greetings.ts"

export const migrations: Migrations = {
  "0001_create_greetings": createGreetings,
}
