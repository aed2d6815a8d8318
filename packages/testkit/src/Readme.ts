import { execFile } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"

/**
 * The runnable example of a package's README: the ```ts block that follows a line
 * `<!-- example -->`, and the ```text block after it, which is what it prints. A test runs the
 * one and compares with the other, so that the README cannot drift from the code.
 */
export interface Example {
  readonly code: string
  readonly output: string | undefined
}

export const example = (packageDir: string): Example => {
  const readme = readFileSync(join(packageDir, "README.md"), "utf8")
  const found = /<!-- example -->\s*```ts\n([\s\S]*?)```(?:\s*```text\n([\s\S]*?)```)?/.exec(readme)
  if (found === null) throw new Error(`${packageDir}/README.md has no block marked <!-- example -->`)
  return { code: found[1] as string, output: found[2] }
}

/**
 * Runs `code` with this Node from inside the package (so the package imports itself by name,
 * as its users do), with `env`; its stdout.
 */
export const run = async (packageDir: string, code: string, env: Record<string, string> = {}) => {
  const file = join(packageDir, `.readme-example-${process.pid}.ts`)
  writeFileSync(file, code)
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [file], {
      cwd: packageDir,
      env: { PATH: process.env.PATH ?? "", ...env },
      timeout: 20_000,
    })
    return stdout
  } finally {
    rmSync(file, { force: true })
  }
}
