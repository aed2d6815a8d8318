import type { Migrations } from "@platform/shared/Database"
import createEntries from "./0001_create_entries.ts"

/** Applied in order, once per database. Add `0002_...` files; never edit one that has run. */
export const migrations: Migrations = {
  "0001_create_entries": createEntries,
}
