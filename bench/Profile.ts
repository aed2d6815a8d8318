import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

/**
 * Where a process's CPU time went, from the `.cpuprofile` Node wrote on exit (`--cpu-prof`):
 * self time by package (ours, effect, connect-node, undici, Node itself) and the top functions.
 */
interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** The npm package a script belongs to, `ours` for the workspace, `node` for Node's own. */
const packageOf = (url: string) => {
  if (url === "") return "(native, GC, idle)"
  if (url.startsWith("node:")) return "node"
  const modules = url.lastIndexOf("/node_modules/")
  if (modules < 0) return "ours"
  const rest = url.slice(modules + "/node_modules/".length).split("/")
  return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url)
}

const shortUrl = (url: string) => {
  const modules = url.lastIndexOf("/node_modules/")
  if (modules >= 0) return url.slice(modules + "/node_modules/".length)
  const packages = url.indexOf("/packages/")
  return packages >= 0 ? url.slice(packages + 1) : url
}

export const summary = (name: string, dir: string, top = 15): string => {
  const files = readdirSync(dir).filter((file) => file.endsWith(".cpuprofile"))
  if (files.length === 0) return `${name}: no profile was written\n`
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let total = 0
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
    profile.samples.forEach((id, index) => {
      const node = nodes.get(id)
      const micros = profile.timeDeltas[index] ?? 0
      if (node === undefined) return
      const frame = node.callFrame
      if (frame.functionName === "(idle)") return
      total += micros
      const pkg = packageOf(frame.url)
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros)
      const key = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`
      byFunction.set(key, (byFunction.get(key) ?? 0) + micros)
    })
  }
  const percent = (micros: number) => `${((micros / total) * 100).toFixed(1)} %`
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1])
  const lines = [
    `${name}: ${(total / 1e6).toFixed(1)} s of CPU (idle excluded), self time`,
    "",
    "| package | self |",
    "|---|---:|",
    ...sorted(byPackage)
      .slice(0, 10)
      .map(([pkg, micros]) => `| ${pkg} | ${percent(micros)} |`),
    "",
    "| function | self |",
    "|---|---:|",
    ...sorted(byFunction)
      .slice(0, top)
      .map(([fn, micros]) => `| \`${fn}\` | ${percent(micros)} |`),
    "",
  ]
  return `${lines.join("\n")}\n`
}
