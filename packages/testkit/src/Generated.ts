import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { promisify } from "node:util"

/**
 * Committed generated code against what `buf generate` makes now, for a package with a
 * `buf.gen.yaml` and its generators in its own `node_modules/.bin`: the same files, the same
 * bytes. What a test asserts; a stale file is named with the command that refreshes it.
 */
export interface Freshness {
  readonly committed: ReadonlyArray<string>
  readonly generated: ReadonlyArray<string>
  /** Files whose committed content differs from a fresh generation. */
  readonly stale: ReadonlyArray<string>
}

const files = (directory: string): Array<string> =>
  readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry)
    return statSync(path).isDirectory() ? files(path) : [path]
  })

export const compare = async (packageDir: string, outDir: string): Promise<Freshness> => {
  const fresh = mkdtempSync(join(tmpdir(), "buf-gen-"))
  await promisify(execFile)(join(packageDir, "node_modules", ".bin", "buf"), ["generate", "--output", fresh], {
    cwd: packageDir,
    env: { ...process.env, PATH: `${join(packageDir, "node_modules", ".bin")}:${process.env.PATH}` },
  })
  const list = (root: string) =>
    files(join(root, outDir))
      .map((path) => relative(join(root, outDir), path))
      .sort()
  const committed = list(packageDir)
  const generated = list(fresh)
  const stale = generated.filter(
    (file) =>
      committed.includes(file) &&
      readFileSync(join(packageDir, outDir, file), "utf8") !== readFileSync(join(fresh, outDir, file), "utf8"),
  )
  return { committed, generated, stale }
}
