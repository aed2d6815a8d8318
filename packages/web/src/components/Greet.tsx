import { type FormEvent, useState } from "react"
import { describe } from "../clients/ErrorMessage.ts"
import { useGreet } from "../clients/Rpc.ts"
import { latestTrace } from "../clients/Tracing.ts"
import { Alert } from "./Alert.tsx"
import { TraceLink } from "./TraceLink.tsx"

/** greeter's Greet: the message, and what caller found at the external URL. */
export function Greet() {
  const [name, setName] = useState("")
  const mutation = useGreet()
  const [traceId, setTraceId] = useState<string | undefined>(undefined)
  const submit = (event: FormEvent) => {
    event.preventDefault()
    mutation.mutate({ name }, { onSettled: () => setTraceId(latestTrace("Greet")) })
  }
  return (
    <section className="card" aria-labelledby="greet-title">
      <h2 id="greet-title">Greet</h2>
      <form onSubmit={submit}>
        <label>
          Name
          <input name="name" value={name} placeholder="World" onChange={(e) => setName(e.target.value)} />
        </label>
        <div className="actions">
          <button type="submit" disabled={mutation.isPending}>
            {mutation.isPending ? "Greeting…" : "Greet"}
          </button>
        </div>
      </form>
      {mutation.isError && (
        <>
          <Alert>{describe(mutation.error)}</Alert>
          <TraceLink traceId={traceId} />
        </>
      )}
      {mutation.isSuccess && (
        <output className="result" aria-label="greeting">
          <strong>{mutation.data.message}</strong>
          <span>
            external status {mutation.data.externalStatus}, {mutation.data.externalBodyLength} bytes
          </span>
          <TraceLink traceId={traceId} />
        </output>
      )}
    </section>
  )
}
