/**
 * Prometheus' text exposition format (0.0.4), read back: what a test scrapes from `/metrics`
 * to check that counters moved by exactly the requests it sent, and that every metric a
 * dashboard or an alert uses is there.
 */

export interface Sample {
  /** The series' name as written (`http_server_request_duration_seconds_bucket`). */
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Scrape {
  readonly samples: ReadonlyArray<Sample>
  /** Each family's `# TYPE`: counter, gauge, histogram, summary, untyped. */
  readonly types: ReadonlyMap<string, string>
  readonly help: ReadonlyMap<string, string>
}

export class ParseError extends Error {
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`)
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/

const parseValue = (text: string, line: number): number => {
  switch (text) {
    case "+Inf":
      return Number.POSITIVE_INFINITY
    case "-Inf":
      return Number.NEGATIVE_INFINITY
    case "NaN":
      return Number.NaN
  }
  const value = Number(text)
  if (text === "" || Number.isNaN(value)) throw new ParseError(line, `"${text}" is not a number`)
  return value
}

const unescapeText = (text: string, escapes: string) =>
  text.replace(/\\(.)/g, (whole, char: string) => {
    if (!escapes.includes(char)) return whole
    return char === "n" ? "\n" : char
  })

/** Reads `{name="value",...}` from `text` at `start`; returns the labels and where they end. */
const parseLabels = (text: string, start: number, line: number): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  let at = start + 1
  while (true) {
    while (text[at] === " ") at++
    if (text[at] === "}") return [labels, at + 1]
    const name = LABEL_NAME.exec(text.slice(at))
    if (name === null) throw new ParseError(line, `a label name was expected at column ${at + 1}`)
    at += name[0].length
    if (text[at] !== "=" || text[at + 1] !== '"') throw new ParseError(line, `=" was expected after ${name[0]}`)
    at += 2
    let value = ""
    while (text[at] !== '"') {
      if (at >= text.length) throw new ParseError(line, `the value of ${name[0]} is not closed`)
      if (text[at] === "\\") {
        value += text.slice(at, at + 2)
        at += 2
      } else value += text[at++]
    }
    labels[name[0]] = unescapeText(value, '\\"n')
    at++
    if (text[at] === ",") at++
    else if (text[at] !== "}") throw new ParseError(line, `, or } was expected after the value of ${name[0]}`)
  }
}

export const parse = (text: string): Scrape => {
  const samples: Array<Sample> = []
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  const lines = text.split("\n")
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === "") return
    if (raw.startsWith("#")) {
      const comment = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s(.*))?$/.exec(raw)
      if (comment === null) return
      const [, kind, name, rest = ""] = comment
      if (kind === "TYPE") types.set(name as string, rest.trim())
      else help.set(name as string, unescapeText(rest, "\\n"))
      return
    }
    const name = NAME.exec(raw)
    if (name === null) throw new ParseError(line, "a metric name was expected")
    let at = name[0].length
    let labels: Record<string, string> = {}
    if (raw[at] === "{") [labels, at] = parseLabels(raw, at, line)
    const fields = raw.slice(at).trim().split(/\s+/)
    if (fields.length < 1 || fields.length > 2) throw new ParseError(line, "a value (and a timestamp) was expected")
    samples.push({ name: name[0], labels, value: parseValue(fields[0] as string, line) })
  })
  return { samples, types, help }
}

const matches = (sample: Sample, labels: Readonly<Record<string, string>>) =>
  Object.entries(labels).every(([name, value]) => sample.labels[name] === value)

/** The sum of the series called `name` whose labels include `labels` (0 when there is none). */
export const sum = (scrape: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number =>
  scrape.samples.filter((sample) => sample.name === name && matches(sample, labels)).reduce((a, s) => a + s.value, 0)

/** Every name a query may use: the families, and their series (`_bucket`, `_sum`, `_count`). */
export const families = (scrape: Scrape): ReadonlySet<string> => {
  const names = new Set(scrape.types.keys())
  for (const sample of scrape.samples) names.add(sample.name)
  return names
}
