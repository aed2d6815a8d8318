/**
 * One prefixed, coloured stream per service. The services log JSON lines; for a person at a
 * terminal they are shown as `time level message key=value…`. With `PLATFORM_LOG_FORMAT=json`
 * the output is JSON lines only, one object a line, for `jq` or a log shipper: the services'
 * lines exactly as they wrote them (each names its service), and anything else (the runner's
 * own lines, PostgreSQL's, a crash's stderr) as `{"time","level","service","message"}`.
 */
const COLOURS = ["36", "33", "35", "32", "34", "91", "96", "93"]
const colour = process.stdout.isTTY || process.env.FORCE_COLOR !== undefined
const raw = process.env.PLATFORM_LOG_FORMAT === "json"
const WIDTH = 9

const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text)

const LEVELS: Record<string, string> = {
  trace: "90",
  debug: "90",
  info: "32",
  warn: "33",
  error: "31",
  fatal: "31;1",
}

const render = (line: string) => {
  if (!line.startsWith("{")) return line
  try {
    const { time, level, service: _service, message, ...rest } = JSON.parse(line) as Record<string, unknown>
    const clock = typeof time === "string" ? time.slice(11, 23) : ""
    const levelText = String(level ?? "").padEnd(5)
    const extras = Object.entries(rest)
      .filter(([key]) => key !== "trace_id" && key !== "span_id" && key !== "error")
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join(" ")
    const error = typeof rest.error === "string" ? `\n${rest.error}` : ""
    return `${paint("90", clock)} ${paint(LEVELS[String(level)] ?? "0", levelText)} ${String(message)}${extras === "" ? "" : ` ${paint("90", extras)}`}${error}`
  } catch {
    return line
  }
}

const isJsonObject = (line: string) => {
  if (!line.startsWith("{")) return false
  try {
    return typeof JSON.parse(line) === "object"
  } catch {
    return false
  }
}

/** A line that is not JSON, as the JSON line that stands for it. */
const asJson = (name: string, line: string) =>
  JSON.stringify({
    time: new Date().toISOString(),
    level: /error|fatal|panic/i.test(line) ? "error" : "info",
    service: name,
    message: line,
  })

export const printer = (name: string, index: number) => {
  if (raw) {
    return (line: string) => {
      if (line.trim() === "") return
      process.stdout.write(`${isJsonObject(line) ? line : asJson(name, line)}\n`)
    }
  }
  const prefix = paint(COLOURS[index % COLOURS.length] ?? "0", `${name.padEnd(WIDTH)}|`)
  return (line: string) => {
    for (const part of render(line).split("\n")) process.stdout.write(`${prefix} ${part}\n`)
  }
}

/** Splits a byte stream into lines. */
export const lines = (onLine: (line: string) => void) => {
  let buffered = ""
  return (chunk: Buffer | string) => {
    buffered += chunk.toString()
    let newline = buffered.indexOf("\n")
    while (newline !== -1) {
      onLine(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
      newline = buffered.indexOf("\n")
    }
  }
}
