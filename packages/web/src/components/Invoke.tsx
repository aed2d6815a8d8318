import { useQueryClient } from "@tanstack/react-query"
import { type FormEvent, useState } from "react"
import { describe } from "../clients/ErrorMessage.ts"
import { useInvokeCustom } from "../clients/Rpc.ts"
import { latestTrace } from "../clients/Tracing.ts"
import { TraceLink } from "./TraceLink.tsx"

/** The names lang answers with a configured failure (the contract's table), and what they mean. */
export const failureNames = [
  { name: "unavailable", answer: "503: retried once, and trips the breaker" },
  { name: "ratelimit", answer: "429: retried once" },
  { name: "unauthorized", answer: "401" },
  { name: "forbidden", answer: "403" },
  { name: "notfound", answer: "404" },
  { name: "conflict", answer: "409" },
] as const

interface Outcome {
  readonly id: number
  readonly name: string
  readonly ok: boolean
  readonly text: string
  readonly traceId: string | undefined
}

/** gateway's InvokeCustom: any name, or one of lang's failures, to watch the breaker react. */
export function Invoke() {
  const [choice, setChoice] = useState<string>("custom")
  const [custom, setCustom] = useState("")
  const [outcomes, setOutcomes] = useState<ReadonlyArray<Outcome>>([])
  const queryClient = useQueryClient()
  const mutation = useInvokeCustom()
  const name = choice === "custom" ? custom : choice

  const submit = (event: FormEvent) => {
    event.preventDefault()
    const id = Date.now() + Math.random()
    mutation.mutate(
      { name },
      {
        onSuccess: (response) =>
          setOutcomes((all) =>
            [{ id, name, ok: true, text: response.message, traceId: latestTrace("InvokeCustom") }, ...all].slice(0, 8),
          ),
        onError: (error) =>
          setOutcomes((all) =>
            [{ id, name, ok: false, text: describe(error), traceId: latestTrace("InvokeCustom") }, ...all].slice(0, 8),
          ),
        // The breaker has just moved: show it now rather than at the next poll.
        onSettled: () => void queryClient.invalidateQueries({ queryKey: ["resilience"] }),
      },
    )
  }

  return (
    <section className="card" aria-labelledby="invoke-title">
      <h2 id="invoke-title">InvokeCustom</h2>
      <form onSubmit={submit}>
        <label>
          Name
          <select name="choice" value={choice} onChange={(e) => setChoice(e.target.value)}>
            <option value="custom">a name of your own</option>
            {failureNames.map((failure) => (
              <option key={failure.name} value={failure.name}>
                {failure.name} (lang answers {failure.answer})
              </option>
            ))}
          </select>
        </label>
        {choice === "custom" && (
          <label>
            Your name
            <input name="custom" value={custom} placeholder="World" onChange={(e) => setCustom(e.target.value)} />
          </label>
        )}
        <div className="actions">
          <button type="submit" disabled={mutation.isPending}>
            {mutation.isPending ? "Invoking…" : "Invoke"}
          </button>
        </div>
      </form>
      <ol className="outcomes" aria-label="outcomes">
        {outcomes.map((outcome) => (
          <li key={outcome.id} className={outcome.ok ? "ok" : "error"}>
            <code>{outcome.name || "World"}</code> → {outcome.text}
            <TraceLink traceId={outcome.traceId} />
          </li>
        ))}
      </ol>
    </section>
  )
}
