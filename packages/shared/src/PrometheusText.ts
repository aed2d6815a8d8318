/**
 * One exposition out of several processes' (a service's workers): every sample gains the label
 * that names its process, and each metric family is written once, its `# HELP` and `# TYPE`
 * first and then every process's samples, as the text format requires (a family's lines
 * together). Nothing is summed: `sum(rate(...))` over the labelled series is the service's total,
 * and a gauge stays true per process (a breaker's state, a process's memory).
 */
export interface Part {
  /** The label value naming the process the text came from. */
  readonly source: string
  /** Prometheus text format 0.0.4. */
  readonly text: string
}

interface Family {
  readonly header: Array<string>
  readonly samples: Array<string>
}

const familyOfHeader = (line: string) => line.split(" ")[2] ?? ""

const sampleName = (line: string) => {
  const end = line.search(/[{\s]/)
  return end < 0 ? line : line.slice(0, end)
}

/** Label values escape `\`, `"` and newlines (the text format's rules). */
const escapeValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/** `name{a="1"} 2` with `label="value"` first among its labels. */
export const withLabel = (line: string, label: string, value: string) => {
  const name = sampleName(line)
  const pair = `${label}="${escapeValue(value)}"`
  const rest = line.slice(name.length)
  if (!rest.startsWith("{")) return `${name}{${pair}}${rest}`
  return rest.startsWith("{}") ? `${name}{${pair}}${rest.slice(2)}` : `${name}{${pair},${rest.slice(1)}`
}

export const merge = (parts: ReadonlyArray<Part>, label: string): string => {
  const families = new Map<string, Family>()
  const family = (name: string) => {
    let found = families.get(name)
    if (found === undefined) {
      found = { header: [], samples: [] }
      families.set(name, found)
    }
    return found
  }
  for (const part of parts) {
    let current: Family | undefined
    for (const line of part.text.split("\n")) {
      if (line.trim() === "") continue
      if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
        current = family(familyOfHeader(line))
        // Each process says the same; the first one's words stand.
        const kind = line.slice(0, 7)
        if (!current.header.some((seen) => seen.startsWith(kind))) current.header.push(line)
        continue
      }
      if (line.startsWith("#")) continue
      // A sample belongs to the family announced above it (`x_bucket`, `x_sum` under `x`).
      ;(current ?? family(sampleName(line))).samples.push(withLabel(line, label, part.source))
    }
  }
  const lines: Array<string> = []
  for (const { header, samples } of families.values()) lines.push(...header, ...samples)
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}
