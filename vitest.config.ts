import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.{ts,tsx}", "proto-compat/test/**/*.test.ts"],
    // Integration tests start real servers and databases; each file gets its own database.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
})
