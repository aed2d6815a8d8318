import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, type Scope } from "effect"

/** What a service is made of: a change to any other file (an editor's swap or backup file) is ignored. */
const SOURCE = /\.(ts|tsx|mts|js|mjs|json)$/

/** Changes that come together (a save that writes, renames and touches) restart once. */
const SETTLE_MS = 150

/**
 * Watches folders for changes to source files, however they are made: edited in place, replaced
 * by a rename (the atomic save of vim, JetBrains and others), deleted and created again, or
 * switched by `git checkout`. Node's `--watch` follows the files a process imported, by inode,
 * so it loses a file once it is replaced, and Node's recursive `fs.watch` on Linux watches files
 * too; this watches every directory (inotify reports each entry by name, whatever replaced it),
 * and the directories created later. `onChange` gets the changed files, relative to `root`,
 * once they settle.
 */
export const watch = (
  root: string,
  folders: ReadonlyArray<string>,
  onChange: (files: ReadonlyArray<string>) => void,
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      let pending = new Set<string>()
      let timer: NodeJS.Timeout | undefined
      const watchers = new Map<string, fs.FSWatcher>()
      const flush = () => {
        timer = undefined
        const files = [...pending].sort()
        pending = new Set()
        if (files.length > 0) onChange(files)
      }
      const watchDirectory = (dir: string) => {
        if (watchers.has(dir) || path.basename(dir) === "node_modules") return
        let watcher: fs.FSWatcher
        try {
          watcher = fs.watch(dir, (_event, name) => {
            if (name === null) return
            const full = path.join(dir, name)
            // A directory created (or moved in) since: watch it too.
            if (fs.existsSync(full) && fs.statSync(full).isDirectory()) return watchTree(full)
            if (!SOURCE.test(name)) return
            pending.add(path.relative(root, full))
            if (timer !== undefined) clearTimeout(timer)
            timer = setTimeout(flush, SETTLE_MS)
          })
        } catch {
          return // removed meanwhile
        }
        watcher.on("error", () => {
          watcher.close()
          watchers.delete(dir)
        })
        watchers.set(dir, watcher)
      }
      const watchTree = (dir: string) => {
        watchDirectory(dir)
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) watchTree(path.join(dir, entry.name))
        }
      }
      for (const folder of folders) if (fs.existsSync(folder)) watchTree(folder)
      return {
        close: () => {
          if (timer !== undefined) clearTimeout(timer)
          for (const watcher of watchers.values()) watcher.close()
        },
      }
    }),
    ({ close }) => Effect.sync(close),
  ).pipe(Effect.asVoid)

/**
 * The folders a service is made of: its own `src`, and those of the workspace packages it
 * depends on (their `src`, or `gen` for generated code), so that a change to the kernel or a
 * contract restarts the services that use it.
 */
export const foldersOf = (root: string, serviceDir: string): ReadonlyArray<string> => {
  const manifests = new Map<string, string>()
  for (const parent of ["packages", "."]) {
    for (const entry of fs.readdirSync(path.join(root, parent))) {
      const manifest = path.join(root, parent, entry, "package.json")
      if (!fs.existsSync(manifest)) continue
      const name = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name
      if (name !== undefined) manifests.set(name, path.join(root, parent, entry))
    }
  }
  const seen = new Set<string>()
  const visit = (dir: string) => {
    if (seen.has(dir)) return
    seen.add(dir)
    const { dependencies = {} } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>
    }
    for (const [name, range] of Object.entries(dependencies)) {
      const found = manifests.get(name)
      if (range.startsWith("workspace:") && found !== undefined) visit(found)
    }
  }
  visit(path.join(root, serviceDir))
  return [...seen].flatMap((dir) =>
    ["src", "gen"].map((sub) => path.join(dir, sub)).filter((folder) => fs.existsSync(folder)),
  )
}
