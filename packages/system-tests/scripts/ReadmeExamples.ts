import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"

/**
 * The README's runnable examples: every ```sh block right after a `<!-- smoke -->` line. In a
 * block, each command (lines ending in `\` continue it) may be followed by `#` lines: what it
 * prints, line for line, where `…` stands for anything. `pnpm smoke` runs them against a running
 * platform, as a reader would paste them, so that the README cannot drift from the code.
 */
export interface Step {
  readonly command: string
  readonly expected: ReadonlyArray<string>
}

export interface Example {
  /** The line of the README the block starts on. */
  readonly line: number
  readonly steps: ReadonlyArray<Step>
}

export const parse = (markdown: string): ReadonlyArray<Example> => {
  const lines = markdown.split("\n")
  const examples: Array<Example> = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== "<!-- smoke -->" || lines[i + 1]?.trim() !== "```sh") continue
    const steps: Array<{ command: string; expected: Array<string> }> = []
    let continued = false
    let j = i + 2
    for (; j < lines.length && lines[j]?.trim() !== "```"; j++) {
      const line = lines[j] as string
      if (line.startsWith("#") && !continued) {
        steps.at(-1)?.expected.push(line.replace(/^# ?/, ""))
      } else if (continued) {
        const last = steps.at(-1) as { command: string }
        last.command += `\n${line}`
      } else if (line.trim() !== "") {
        steps.push({ command: line, expected: [] })
      }
      continued = line.endsWith("\\")
    }
    examples.push({ line: i + 2, steps })
    i = j
  }
  return examples
}

const pattern = (expected: string) =>
  new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll("…", ".*")}$`)

/** Whether `output` is what `expected` says, line for line (`…` matching anything). */
export const matches = (expected: ReadonlyArray<string>, output: string) => {
  const got = output.replace(/\n+$/, "").split("\n")
  return got.length === expected.length && expected.every((line, index) => pattern(line).test(got[index] ?? ""))
}

/**
 * Runs an example's commands in one bash, in order, from `root`, as a reader pastes them: its
 * first failure (the command, what it printed, what the README says), or `undefined`.
 */
export const run = (example: Example, root: string): string | undefined => {
  const script = example.steps
    .map((step, index) => `printf '\\n@@@ %s\\n' ${index}\n${step.command}\n`)
    .concat("printf '\\n@@@ end\\n'\n")
    .join("")
  const result = spawnSync("bash", ["-c", script], { cwd: root, encoding: "utf8", timeout: 120_000 })
  const outputs = new Map<string, string>()
  const parts = (result.stdout ?? "").split(/\n@@@ /)
  for (const part of parts.slice(1)) {
    const newline = part.indexOf("\n")
    outputs.set(part.slice(0, newline === -1 ? undefined : newline), newline === -1 ? "" : part.slice(newline + 1))
  }
  for (const [index, step] of example.steps.entries()) {
    const output = outputs.get(String(index))
    if (output === undefined) return `\`${step.command}\` did not run (${(result.stderr ?? "").trim().slice(-300)})`
    if (step.expected.length > 0 && !matches(step.expected, output)) {
      return `\`${step.command}\` printed ${JSON.stringify(output.trim())}, the README says ${JSON.stringify(step.expected.join("\n"))}`
    }
  }
  if (!outputs.has("end")) return `the block did not finish (${(result.stderr ?? "").trim().slice(-300)})`
  return undefined
}

export const fromFile = (path: string) => parse(readFileSync(path, "utf8"))
