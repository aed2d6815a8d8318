import { type Name, services } from "./Services.ts"

const json = process.env.PLATFORM_LOG_FORMAT === "json"

/**
 * The readiness line and what follows it: where everything is, and commands to try. Printed
 * when every service first answers, and its first line again whenever a restarted service is
 * back. With `PLATFORM_LOG_FORMAT=json`, one JSON line instead.
 */
export const make = (options: {
  readonly mode: "start" | "dev"
  readonly portOf: (name: Name) => number
  readonly database: string
  readonly external: string
}) => {
  const edge = `http://localhost:${options.portOf("edge")}`
  const urls = Object.fromEntries(services.map((spec) => [spec.name, `http://localhost:${options.portOf(spec.name)}`]))
  const write = (line: string, fields: Record<string, unknown>) =>
    process.stdout.write(
      json
        ? `${JSON.stringify({ time: new Date().toISOString(), level: "info", service: "platform", message: line, ...fields })}\n`
        : `${line}\n`,
    )
  return {
    first: (started: number) => {
      const ready = `platform ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${options.mode}): every service answers its health check`
      if (json) return write(ready, { urls, database: options.database, external: options.external })
      const account = `'{"email":"ada@example.com","password":"correct horse battery"}'`
      const type = "-H 'content-type: application/json'"
      const lines = [
        "",
        ready,
        `  edge      ${edge}        (the entry point: web console at /, the APIs below)`,
        ...services.filter((spec) => spec.name !== "edge").map((spec) => `  ${spec.name.padEnd(9)} ${urls[spec.name]}`),
        `  database  ${options.database}`,
        `  external  ${options.external}   (what greeter asks caller to fetch)`,
        "",
        "Try it (through the edge; Greet and InvokeCustom need a token):",
        `  curl -s ${edge}/auth/register ${type} -d ${account}`,
        `  TOKEN=$(curl -s ${edge}/auth/login ${type} -d ${account} | sed -E 's/.*"token":"([^"]+)".*/\\1/')`,
        `  curl -s ${edge}/greeter.v1.GreeterService/Greet ${type} -H "authorization: Bearer $TOKEN" -d '{"name":"Ada"}'`,
        `  curl -s ${edge}/gateway.v1.GatewayService/InvokeCustom ${type} -H "authorization: Bearer $TOKEN" -d '{"name":"Ada"}'`,
        "",
        options.mode === "dev"
          ? "Watching sources: a service restarts when its code changes. Ctrl-C stops everything."
          : "Ctrl-C stops everything.",
        "",
      ]
      process.stdout.write(`${lines.join("\n")}\n`)
    },
    again: (name: string) =>
      write(`platform ready again: ${name} was restarted, and every service answers its health check`, {
        restarted: name,
      }),
  }
}
