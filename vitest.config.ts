import { defineConfig } from "vitest/config"

const everyTest = [
  "packages/*/test/**/*.test.{ts,tsx}",
  "templates/*/test/**/*.test.ts",
  "proto-compat/test/**/*.test.ts",
]

/**
 * Two tiers: `unit` (domain logic on memory layers and the test clock, handlers in memory, the
 * kernel's pieces: no database, no network, seconds) and `integration` (`*.int.test.ts`: real
 * HTTP servers and processes on loopback, a fresh PostgreSQL database per file). `pnpm test` runs
 * both; `pnpm test:unit` the first alone. The integration tier brings its own PostgreSQL when
 * `TEST_DATABASE_URL` names none (`packages/testkit/src/DatabaseSetup.ts`).
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
          include: [
            "packages/*/test/**/*.int.test.ts",
            "templates/*/test/**/*.int.test.ts",
            "proto-compat/test/**/*.int.test.ts",
          ],
          // One PostgreSQL for the run (TEST_DATABASE_URL, a container, or the embedded one).
          globalSetup: ["packages/testkit/src/DatabaseSetup.ts"],
        },
      },
    ],
  },
})
