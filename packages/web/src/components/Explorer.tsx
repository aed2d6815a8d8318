import { type DescMethod, type DescMethodUnary, type DescService, fromJsonString, toJson } from "@bufbuild/protobuf"
import { ConnectError } from "@connectrpc/connect"
import { useTransport } from "@connectrpc/connect-query"
import type { ApiAnswer, ApiCall, ApiEndpoint } from "@platform/contracts/DashboardApi"
import { GatewayService } from "@platform/proto-compat/gateway/v1"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { useQuery } from "@tanstack/react-query"
import { type FormEvent, useState } from "react"
import { describe } from "../clients/ErrorMessage.ts"
import { authorized, usePlatform } from "../Platform.tsx"
import { DashboardUnavailable, isDashboardMissing } from "./DashboardUnavailable.tsx"

/** The Connect services the edge routes, from their descriptors in proto-compat. */
const connectServices: ReadonlyArray<DescService> = [GreeterService, GatewayService]

/** `{ "name": "" }` from a request message's fields, for the form to start from. */
export const messageExample = (method: DescMethod) =>
  JSON.stringify(
    Object.fromEntries(
      method.input.fields.map((field) => [field.jsonName, field.fieldKind === "scalar" && field.scalar !== 9 ? 0 : ""]),
    ),
    null,
    2,
  )

interface Shown {
  readonly status: string
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
}

function Answer({ shown }: { readonly shown: Shown | undefined }) {
  if (shown === undefined) return null
  return (
    <div className="answer" data-testid="answer">
      <p>
        <strong data-testid="answer-status">{shown.status}</strong>
      </p>
      {shown.headers !== undefined && (
        <details>
          <summary>headers</summary>
          <pre>
            {Object.entries(shown.headers)
              .map(([name, value]) => `${name}: ${value}`)
              .join("\n")}
          </pre>
        </details>
      )}
      <pre data-testid="answer-body">{shown.body}</pre>
    </div>
  )
}

/** One REST endpoint's form: method and path (editable), body, the token, the raw answer. */
function RestForm({ endpoint }: { readonly endpoint: ApiEndpoint }) {
  const { api, session } = usePlatform()
  const [path, setPath] = useState(endpoint.path)
  const [body, setBody] = useState(endpoint.example ?? "")
  const [withToken, setWithToken] = useState(true)
  const [shown, setShown] = useState<Shown | undefined>(undefined)
  const [pending, setPending] = useState(false)
  const send = async (event: FormEvent) => {
    event.preventDefault()
    setPending(true)
    const token = session.current()?.token
    const request: ApiCall = {
      service: endpoint.service,
      method: endpoint.method as ApiCall["method"],
      path,
      headers: {
        ...(endpoint.method === "GET" ? {} : { "content-type": "application/json" }),
        ...(withToken && token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      },
      body: endpoint.method === "GET" ? null : body,
    }
    try {
      const answer: ApiAnswer = await authorized(session, (accessToken) => api.call(accessToken, request))
      setShown({
        status: `${answer.status} in ${answer.durationMs.toFixed(1)} ms`,
        body: answer.body,
        headers: answer.headers,
      })
    } catch (error) {
      setShown({ status: "no answer", body: describe(error) })
    } finally {
      setPending(false)
    }
  }
  return (
    <form
      onSubmit={(event) => void send(event)}
      className="explorer-form"
      aria-label={`${endpoint.method} ${endpoint.path}`}
    >
      <label>
        Path
        <input name="path" value={path} onChange={(e) => setPath(e.target.value)} />
      </label>
      {endpoint.method !== "GET" && (
        <label>
          Body (JSON)
          <textarea name="body" rows={4} value={body} onChange={(e) => setBody(e.target.value)} />
        </label>
      )}
      <label className="inline">
        <input type="checkbox" checked={withToken} onChange={(e) => setWithToken(e.target.checked)} />
        Send my access token
      </label>
      <div className="actions">
        <button type="submit" disabled={pending}>
          {pending ? "Sending…" : "Send"}
        </button>
      </div>
      <Answer shown={shown} />
    </form>
  )
}

/** One Connect RPC's form: its request as JSON, sent through the edge as the console sends any call. */
function RpcForm({ method }: { readonly method: DescMethod }) {
  const transport = useTransport()
  const [input, setInput] = useState(messageExample(method))
  const [shown, setShown] = useState<Shown | undefined>(undefined)
  const [pending, setPending] = useState(false)
  const send = async (event: FormEvent) => {
    event.preventDefault()
    const unary = method
    if (unary.methodKind !== "unary") return
    setPending(true)
    const started = performance.now()
    try {
      const message = fromJsonString(unary.input, input)
      // Checked above: the descriptor's kind is unary (its type does not narrow on it).
      const response = await transport.unary(unary as DescMethodUnary, undefined, undefined, undefined, message)
      setShown({
        status: `OK in ${(performance.now() - started).toFixed(1)} ms`,
        body: JSON.stringify(toJson(method.output, response.message), null, 2),
      })
    } catch (error) {
      setShown({
        status: error instanceof ConnectError ? "error" : "not sent",
        body: error instanceof ConnectError ? describe(error) : error instanceof Error ? error.message : String(error),
      })
    } finally {
      setPending(false)
    }
  }
  return (
    <form
      onSubmit={(event) => void send(event)}
      className="explorer-form"
      aria-label={`${method.parent.typeName}/${method.name}`}
    >
      <label>
        Request (JSON)
        <textarea name="input" rows={4} value={input} onChange={(e) => setInput(e.target.value)} />
      </label>
      <div className="actions">
        <button type="submit" disabled={pending}>
          {pending ? "Calling…" : "Call"}
        </button>
      </div>
      <Answer shown={shown} />
    </form>
  )
}

type Chosen =
  | { readonly kind: "rest"; readonly endpoint: ApiEndpoint }
  | { readonly kind: "rpc"; readonly method: DescMethod }

const keyOf = (chosen: Chosen) =>
  chosen.kind === "rest"
    ? `${chosen.endpoint.service} ${chosen.endpoint.method} ${chosen.endpoint.path}`
    : `${chosen.method.parent.typeName}/${chosen.method.name}`

/** Every REST endpoint (from the services' OpenAPI documents) and every routed Connect RPC, to call. */
export function Explorer() {
  const { api, session } = usePlatform()
  const [chosen, setChosen] = useState<Chosen | undefined>(undefined)
  const catalog = useQuery({ queryKey: ["apis"], queryFn: () => authorized(session, api.apis), retry: false })
  const pick = (next: Chosen) => setChosen(chosen !== undefined && keyOf(chosen) === keyOf(next) ? undefined : next)
  return (
    <section className="card wide" aria-labelledby="explorer-title">
      <h2 id="explorer-title">API explorer</h2>
      <h3>Connect RPCs, through the edge</h3>
      <ul className="endpoints" aria-label="Connect RPCs">
        {connectServices.flatMap((service) =>
          service.methods.map((method) => {
            const entry: Chosen = { kind: "rpc", method }
            return (
              <li key={keyOf(entry)}>
                <button
                  type="button"
                  className="endpoint"
                  aria-expanded={chosen !== undefined && keyOf(chosen) === keyOf(entry)}
                  onClick={() => pick(entry)}
                >
                  <span className="verb">RPC</span> {service.typeName}/{method.name}
                </button>
                {chosen !== undefined && keyOf(chosen) === keyOf(entry) && <RpcForm method={method} />}
              </li>
            )
          }),
        )}
      </ul>
      <h3>REST, from each service's /openapi.json</h3>
      {catalog.isError ? (
        isDashboardMissing(catalog.error) ? (
          <DashboardUnavailable />
        ) : (
          <p role="alert">{describe(catalog.error)}</p>
        )
      ) : catalog.data === undefined ? (
        <p>Loading…</p>
      ) : (
        <ul className="endpoints" aria-label="REST endpoints">
          {catalog.data.endpoints.map((endpoint) => {
            const entry: Chosen = { kind: "rest", endpoint }
            return (
              <li key={keyOf(entry)}>
                <button
                  type="button"
                  className="endpoint"
                  aria-expanded={chosen !== undefined && keyOf(chosen) === keyOf(entry)}
                  onClick={() => pick(entry)}
                >
                  <span className="verb">{endpoint.method}</span> <span className="muted">{endpoint.service}</span>{" "}
                  {endpoint.path}
                </button>
                {chosen !== undefined && keyOf(chosen) === keyOf(entry) && <RestForm endpoint={endpoint} />}
              </li>
            )
          })}
        </ul>
      )}
    </section>
  )
}
