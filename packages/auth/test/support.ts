import * as TestServer from "@platform/testkit/TestServer"
import { Effect } from "effect"
import * as App from "../src/App.ts"

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
  readonly text: string
}

/** One HTTP call as a client makes it; the body is parsed when it is JSON. */
export const call = (
  base: string,
  method: "GET" | "POST",
  path: string,
  options: { readonly json?: unknown; readonly body?: string; readonly headers?: Record<string, string> } = {},
) =>
  Effect.promise(async (): Promise<Answer> => {
    const body = options.body ?? (options.json === undefined ? undefined : JSON.stringify(options.json))
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
      ...(body === undefined ? {} : { body }),
    })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {}
    return { status: response.status, headers: response.headers, body: parsed, text }
  })

/**
 * An auth instance on a loopback port, for the enclosing scope: several can share one database,
 * as replicas do. Returns its base URL.
 */
export const startAuth = (env: Record<string, string>) => TestServer.serve(App, env)

export const credentials = (email: string, password: string) => ({ json: { email, password } })
