import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { start } from "@platform/testkit/Processes"

/** The runner as `pnpm start` runs it. */
export const runner = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/**
 * The runner with its embedded PostgreSQL in a folder of its own and JSON log lines; `cleanup`
 * removes the folder. Give it `PLATFORM_PORT_OFFSET` to keep clear of a running platform.
 */
export const startRunner = (env: Record<string, string>) => {
  const dataDir = mkdtempSync(join(tmpdir(), "platform-test-"))
  // As root, PostgreSQL runs as the postgres user: it must be able to reach the folder.
  chmodSync(dataDir, 0o755)
  const running = start(runner, {
    EMBEDDED_POSTGRES_DIR: join(dataDir, "postgres"),
    PLATFORM_LOG_FORMAT: "json",
    ...env,
  })
  return { running, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) }
}

/** A JSON POST; the answer's status and JSON body (`{}` when it has none). */
export const postJson = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> }
}
