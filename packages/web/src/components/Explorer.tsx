import { type DescMethod, type DescMethodUnary, type DescService, fromJsonString, toJson } from "@bufbuild/protobuf"
import { ConnectError } from "@connectrpc/connect"
import { useTransport } from "@connectrpc/connect-query"
import type { ApiAnswer, ApiCall, ApiEndpoint } from "@platform/contracts/DashboardApi"
import { GatewayService } from "@platform/proto-compat/gateway/v1"
import { GreeterService } from "@platform/proto-compat/greeter/v1"
import { useQuery } from "@tanstack/react-query"
import { type FormEvent, type ReactNode, useState } from "react"
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

/** A form's one request at a time: pending while it runs, then what to show of its answer. */
const useSend = () => {
  const [shown, setShown] = useState<Shown | undefined>(undefined)
  const [pending, setPending] = useState(false)
  const send = (event: FormEvent, request: () => Promise<Shown>) => {
    event.preventDefault()
    setPending(true)
    void request()
      .then(setShown)
      .finally(() => setPending(false))
  }
  return { shown, pending, send }
}

/** One REST endpoint's form: method and path (editable), body, the token, the raw answer. */
function RestForm({ endpoint }: { readonly endpoint: ApiEndpoint }) {
  const { api, session } = usePlatform()
  const [path, setPath] = useState(endpoint.path)
  const [body, setBody] = useState(endpoint.example ?? "")
  const [withToken, setWithToken] = useState(true)
  const { shown, pending, send } = useSend()
  const call = async (): Promise<Shown> => {
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
      return {
        status: `${answer.status} in ${answer.durationMs.toFixed(1)} ms`,
        body: answer.body,
        headers: answer.headers,
      }
    } catch (error) {
      return { status: "no answer", body: describe(error) }
    }
  }
  return (
    <form
      onSubmit={(event) => send(event, call)}
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
  const { shown, pending, send } = useSend()
  const call = async (): Promise<Shown> => {
    const started = performance.now()
    try {
      const message = fromJsonString(method.input, input)
      // The routed services' methods are all unary (the descriptor's type does not narrow on its kind).
      const response = await transport.unary(method as DescMethodUnary, undefined, undefined, undefined, message)
      return {
        status: `OK in ${(performance.now() - started).toFixed(1)} ms`,
        body: JSON.stringify(toJson(method.output, response.message), null, 2),
      }
    } catch (error) {
      return {
        status: error instanceof ConnectError ? "error" : "not sent",
        body: error instanceof ConnectError ? describe(error) : error instanceof Error ? error.message : String(error),
      }
    }
  }
  return (
    <form
      onSubmit={(event) => send(event, call)}
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

/** One entry of a list: its line opens (and closes) its form below it. */
function Entry(props: {
  readonly open: boolean
  readonly onToggle: () => void
  readonly label: ReactNode
  readonly children: ReactNode
}) {
  return (
    <li>
      <button type="button" className="endpoint" aria-expanded={props.open} onClick={props.onToggle}>
        {props.label}
      </button>
      {props.open && props.children}
    </li>
  )
}

/** Every REST endpoint (from the services' OpenAPI documents) and every routed Connect RPC, to call. */
export function Explorer() {
  const { api, session } = usePlatform()
  // The one entry whose form is open, by its line's text.
  const [open, setOpen] = useState<string | undefined>(undefined)
  const toggle = (id: string) => () => setOpen(open === id ? undefined : id)
  const catalog = useQuery({ queryKey: ["apis"], queryFn: () => authorized(session, api.apis), retry: false })
  return (
    <section className="card wide" aria-labelledby="explorer-title">
      <h2 id="explorer-title">API explorer</h2>
      <h3>Connect RPCs, through the edge</h3>
      <ul className="endpoints" aria-label="Connect RPCs">
        {connectServices.flatMap((service) =>
          service.methods.map((method) => {
            const id = `RPC ${service.typeName}/${method.name}`
            return (
              <Entry
                key={id}
                open={open === id}
                onToggle={toggle(id)}
                label={
                  <>
                    <span className="verb">RPC</span> {service.typeName}/{method.name}
                  </>
                }
              >
                <RpcForm method={method} />
              </Entry>
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
            const id = `${endpoint.method} ${endpoint.service} ${endpoint.path}`
            return (
              <Entry
                key={id}
                open={open === id}
                onToggle={toggle(id)}
                label={
                  <>
                    <span className="verb">{endpoint.method}</span> <span className="muted">{endpoint.service}</span>{" "}
                    {endpoint.path}
                  </>
                }
              >
                <RestForm endpoint={endpoint} />
              </Entry>
            )
          })}
        </ul>
      )}
    </section>
  )
}
