/**
 * `pnpm smoke`: a running platform checked as a client sees it, through the edge
 * (`SMOKE_EDGE_URL`, default http://localhost:30081): health, an account, Greet over Connect
 * JSON and gRPC, InvokeCustom, the forward-auth refusal, the rate limit and CORS. When the
 * services' own ports are reachable (a local run), their /healthz are checked too.
 * Prints one line per check; exits 1 if any fails.
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { createClient } from "@connectrpc/connect"
import { createGrpcTransport } from "@connectrpc/connect-node"
import { services } from "@platform/platform/Services"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import * as ReadmeExamples from "./ReadmeExamples.ts"

const edge = (process.env.SMOKE_EDGE_URL ?? "http://localhost:30081").replace(/\/+$/, "")
const offset = Number(process.env.PLATFORM_PORT_OFFSET ?? 0)
const results: Array<{ name: string; ok: boolean; detail: string }> = []

const check = async (name: string, run: () => Promise<string>) => {
  try {
    const detail = await run()
    results.push({ name, ok: true, detail })
    process.stdout.write(`  ok    ${name}: ${detail}\n`)
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error)
    results.push({ name, ok: false, detail })
    process.stdout.write(`  FAIL  ${name}: ${detail}\n`)
  }
}

const expect = (condition: boolean, message: string) => {
  if (!condition) throw new Error(message)
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${edge}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  })

const local = new URL(edge).hostname === "localhost" || new URL(edge).hostname === "127.0.0.1"

/** A GET through node:http: unlike `fetch`, it reaches ports browsers block (6000 at offset 3000). */
const get = (url: string) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    http
      .get(url, (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (text += chunk))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }))
      })
      .on("error", reject)
  })

const main = async () => {
  process.stdout.write(`smoke test against ${edge}\n`)
  await check("edge /ping", async () => {
    const response = await fetch(`${edge}/ping`)
    const text = await response.text()
    expect(response.status === 200 && text === "OK", `${response.status} ${text}`)
    return "OK"
  })
  if (local) {
    for (const spec of services.filter((s) => s.name !== "edge")) {
      await check(`${spec.name} /healthz`, async () => {
        const response = await get(`http://127.0.0.1:${spec.port + offset}${spec.health}`)
        const text = response.text
        expect(response.status === 200 && text === "ok\n", `${response.status} ${JSON.stringify(text)}`)
        return "ok"
      })
    }
    for (const spec of services) {
      await check(`${spec.name} /metrics`, async () => {
        const response = await get(`http://127.0.0.1:${spec.port + offset}/metrics`)
        const text = response.text
        const families = text.split("\n").filter((line) => line.startsWith("# TYPE ")).length
        expect(response.status === 200 && families > 0, `${response.status}, ${families} metric families`)
        return `${families} metric families`
      })
    }
  }
  await check("the web console at /", async () => {
    const response = await fetch(`${edge}/`)
    const html = await response.text()
    expect(response.status === 200 && html.includes("<title>effect-platform console</title>"), `${response.status}`)
    return "index.html"
  })

  const email = `smoke-${randomUUID().slice(0, 8)}@example.com`
  const password = "correct horse battery"
  let token = ""
  await check("register through the edge", async () => {
    const response = await post("/auth/register", { email, password })
    const body = (await response.json()) as { email?: string; role?: string }
    expect(
      response.status === 201 && body.email === email && body.role === "user",
      `${response.status} ${JSON.stringify(body)}`,
    )
    return `201 ${email}`
  })
  await check("login through the edge", async () => {
    const response = await post("/auth/login", { email, password })
    const body = (await response.json()) as { token?: string }
    expect(response.status === 200 && typeof body.token === "string", `${response.status}`)
    token = body.token ?? ""
    return "200, a token"
  })
  const bearer = () => ({ authorization: `Bearer ${token}` })

  await check("Greet without a token: verify's 401", async () => {
    const response = await post("/greeter.v1.GreeterService/Greet", { name: "nobody" })
    const body = (await response.json()) as { error?: string }
    expect(
      response.status === 401 && body.error === "missing bearer token",
      `${response.status} ${JSON.stringify(body)}`,
    )
    return "401 missing bearer token"
  })
  await check("Greet over Connect JSON (token verified by forward-auth)", async () => {
    const response = await post("/greeter.v1.GreeterService/Greet", { name: "Smoke" }, bearer())
    const body = (await response.json()) as { message?: string; externalStatus?: number }
    expect(
      response.status === 200 && body.message === "Hello Smoke from greeter-service!",
      `${response.status} ${JSON.stringify(body)}`,
    )
    return `${body.message} (external status ${body.externalStatus})`
  })
  await check("Greet over gRPC (h2c)", async () => {
    const client = createClient(GreeterService, createGrpcTransport({ baseUrl: edge }))
    const answer = await client.greet({ name: "gRPC" }, { headers: bearer() })
    expect(answer.message === "Hello gRPC from greeter-service!", answer.message)
    return answer.message
  })
  await check("InvokeCustom over Connect JSON", async () => {
    const response = await post("/gateway.v1.GatewayService/InvokeCustom", { name: "Smoke" }, bearer())
    const body = (await response.json()) as { message?: string }
    expect(
      response.status === 200 && body.message === "Hello Smoke from custom-lang-service!",
      `${response.status} ${JSON.stringify(body)}`,
    )
    return body.message ?? ""
  })
  await check("CORS preflight", async () => {
    const origin = process.env.SMOKE_ORIGIN ?? "http://localhost:30081"
    const response = await fetch(`${edge}/greeter.v1.GreeterService/Greet`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    })
    const allowed = response.headers.get("access-control-allow-origin")
    expect(response.status === 200 && allowed === origin, `${response.status}, allow-origin ${allowed}`)
    return `200, allow-origin ${allowed}, max-age ${response.headers.get("access-control-max-age")}`
  })
  await check("a burst over the rate limit gets 429s", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 150 }, async () => {
        const response = await post("/auth/logout", {})
        await response.arrayBuffer()
        return response.status
      }),
    )
    const limited = statuses.filter((status) => status === 429).length
    expect(limited > 0, `no 429 among ${statuses.length}`)
    return `${limited} of ${statuses.length} answered 429`
  })

  if (local && offset === 0) {
    // The README's examples, as a reader pastes them (they name the default ports).
    const root = fileURLToPath(new URL("../../..", import.meta.url))
    for (const example of ReadmeExamples.fromFile(`${root}/README.md`)) {
      await check(`README example at line ${example.line}`, async () => {
        const failure = ReadmeExamples.run(example, root)
        if (failure !== undefined) throw new Error(failure)
        return `${example.steps.length} command(s) as written`
      })
    }
  }

  const failed = results.filter((result) => !result.ok)
  process.stdout.write(`${results.length - failed.length}/${results.length} checks passed\n`)
  process.exit(failed.length === 0 ? 0 : 1)
}

main().catch((error) => {
  process.stderr.write(`smoke test crashed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
