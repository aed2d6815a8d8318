import { defineConfig } from "vitest/config"

/**
 * The browser test, apart from `pnpm test`: it needs the platform running (`pnpm start`) and a
 * Chromium (`/usr/bin/chromium`, or `CHROMIUM_PATH`). `CONSOLE_URL` says where the edge is.
 */
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.test.ts"],
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
})
