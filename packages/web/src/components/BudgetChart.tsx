import { useEffect, useState } from "react"

/** Three minutes of the panel's once-a-second samples. */
export const HISTORY = 180

export interface Sample {
  readonly at: number
  readonly tokens: number
}

/** Keeps the last `HISTORY` samples of `tokens`, one per new snapshot (`at` changes). */
export const useHistory = (sample: Sample | undefined) => {
  const [history, setHistory] = useState<ReadonlyArray<Sample>>([])
  const at = sample?.at
  const tokens = sample?.tokens
  useEffect(() => {
    if (at === undefined || tokens === undefined) return
    setHistory((all) => [...all, { at, tokens }].slice(-HISTORY))
  }, [at, tokens])
  return history
}

/** The retry budget's tokens over the last minutes: a line falling as retries spend them. */
export function BudgetChart({
  history,
  capacity,
}: {
  readonly history: ReadonlyArray<Sample>
  readonly capacity: number
}) {
  if (history.length < 2) return null
  const top = Math.max(capacity, ...history.map((sample) => sample.tokens), 1)
  const width = HISTORY - 1
  const offset = HISTORY - history.length
  const points = history
    .map((sample, index) => `${offset + index},${(40 * (1 - sample.tokens / top)).toFixed(2)}`)
    .join(" ")
  const seconds = Math.round((history[history.length - 1]?.at ?? 0) - (history[0]?.at ?? 0)) / 1000
  return (
    <figure className="budget-chart">
      <svg
        viewBox={`0 0 ${width} 40`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`retry budget tokens over the last ${Math.round(seconds)} s`}
        data-testid="budget-chart"
        data-points={history.length}
      >
        <polyline
          points={points}
          fill="none"
          stroke="currentColor"
          strokeWidth="1.5"
          vectorEffect="non-scaling-stroke"
        />
      </svg>
      <figcaption className="muted">
        tokens over the last {Math.round(seconds)} s (0 to {top.toFixed(0)})
      </figcaption>
    </figure>
  )
}
