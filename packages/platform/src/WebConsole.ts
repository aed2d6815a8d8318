import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { lines, printer } from "./LogPrinter.ts"

/**
 * The web console, for the edge to serve at `/`: built with Vite into `packages/web/dist` when
 * its sources changed since the last build (a fresh clone builds it once, in about a second),
 * and in `pnpm dev` rebuilt by `vite build --watch` on every change (reload the page).
 */
export class BuildFailed extends Schema.TaggedError<BuildFailed>()("BuildFailed", { message: Schema.String }) {}

const web = (root: string) => path.join(root, "packages", "web")
export const distDir = (root: string) => path.join(web(root), "dist")

/** What the console is built from: its own files, the contracts and the generated code it imports. */
const sources = (root: string) => {
  const files: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      if (entry === "node_modules" || entry === "dist" || entry === "test" || entry === "e2e") continue
      const file = path.join(dir, entry)
      if (statSync(file).isDirectory()) walk(file)
      else files.push(file)
    }
  }
  walk(web(root))
  walk(path.join(root, "packages", "contracts", "src"))
  walk(path.join(root, "proto-compat", "gen"))
  return files.sort()
}

const fingerprint = (root: string) => {
  const hash = createHash("sha256")
  for (const file of sources(root)) hash.update(file).update(readFileSync(file))
  return hash.digest("hex")
}

const stamp = (root: string) => path.join(distDir(root), ".sources")

const vite = (root: string, args: ReadonlyArray<string>) =>
  spawn(process.execPath, [path.join(web(root), "node_modules", "vite", "bin", "vite.js"), ...args], {
    cwd: web(root),
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  })

/** Builds the console unless `dist` was built from the same sources. */
export const ensureBuilt = (root: string) =>
  Effect.gen(function* () {
    const wanted = fingerprint(root)
    if (existsSync(stamp(root)) && readFileSync(stamp(root), "utf8") === wanted) return
    yield* Effect.logInfo("building the web console (vite build)")
    const output: Array<string> = []
    const code = yield* Effect.callback<number | null>((resume) => {
      const child = vite(root, ["build", "--logLevel", "warn"])
      child.stdout.on(
        "data",
        lines((line) => output.push(line)),
      )
      child.stderr.on(
        "data",
        lines((line) => output.push(line)),
      )
      child.on("exit", (exit) => resume(Effect.succeed(exit)))
      child.on("error", (error) => {
        output.push(error.message)
        resume(Effect.succeed(null))
      })
      return Effect.sync(() => child.kill())
    })
    if (code !== 0) {
      return yield* new BuildFailed({ message: `the web console did not build: ${output.slice(-5).join(" / ")}` })
    }
    writeFileSync(stamp(root), wanted)
  })

/** `pnpm dev`: Vite rebuilds the console whenever one of its files changes, until the scope closes. */
export const watch = (root: string, index: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const print = printer("web", index)
      const child = vite(root, ["build", "--watch", "--logLevel", "warn"])
      child.stdout.on("data", lines(print))
      child.stderr.on("data", lines(print))
      return child
    }),
    (child) => Effect.sync(() => child.kill("SIGTERM")),
  )
