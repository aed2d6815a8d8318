import { defineConfig } from "vitest/config"

const everyTest = ["packages/*/test/**/*.test.{ts,tsx}", "proto-compat/test/**/*.test.ts"]

/**
 * Two tiers: `unit` (domain logic on memory layers and the test clock, handlers in memory, the
 * kernel's pieces: no database, no network, seconds) and `integration` (`*.int.test.ts`: real
 * HTTP servers and processes on loopback, a fresh PostgreSQL database per file). `pnpm test` runs
 * both; `pnpm test:unit` the first alone.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: everyTest,
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
          // Files share their workers: Effect is imported once per worker rather than once per file.
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["packages/*/test/**/*.int.test.ts", "proto-compat/test/**/*.int.test.ts"],
        },
      },
    ],
  },
})
