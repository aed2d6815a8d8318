import { useNavigation } from "../Navigation.tsx"

/** "trace": opens the waterfall of the call this outcome came from. */
export function TraceLink({ traceId }: { readonly traceId: string | undefined }) {
  const { openTrace } = useNavigation()
  if (traceId === undefined) return null
  return (
    <>
      {" "}
      <button
        type="button"
        className="link"
        aria-label={`trace ${traceId}`}
        data-trace-id={traceId}
        onClick={() => openTrace(traceId)}
      >
        trace
      </button>
    </>
  )
}
