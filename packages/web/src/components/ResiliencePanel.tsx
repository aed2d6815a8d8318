import { useQuery } from "@tanstack/react-query"
import { describe } from "../clients/ErrorMessage.ts"
import { authorized, usePlatform } from "../Platform.tsx"
import { Alert } from "./Alert.tsx"
import { BudgetChart, useHistory } from "./BudgetChart.tsx"

/** How often the panel asks the gateway (through the edge) for its breaker and budget. */
export const POLL_MS = 1000

/** The gateway's circuit breaker and retry budget, live: trip it and watch it open and close. */
export function ResiliencePanel() {
  const { api, session } = usePlatform()
  const query = useQuery({
    queryKey: ["resilience"],
    queryFn: () => authorized(session, api.resilience),
    refetchInterval: POLL_MS,
    retry: false,
  })
  const history = useHistory(
    query.data === undefined ? undefined : { at: query.dataUpdatedAt, tokens: query.data.budget.tokens },
  )
  return (
    <section className="card" aria-labelledby="resilience-title">
      <h2 id="resilience-title">gateway → lang</h2>
      {query.isPending && <p>Loading…</p>}
      {query.isError && <Alert>{describe(query.error)}</Alert>}
      {query.data !== undefined && (
        <dl className="resilience">
          <dt>Circuit breaker</dt>
          <dd>
            <span className={`state state-${query.data.breaker.state}`} data-testid="breaker-state">
              {query.data.breaker.state}
            </span>
            {query.data.breaker.halfOpenInMs !== undefined && (
              <span data-testid="breaker-countdown">
                {" "}
                half-open in {Math.ceil(query.data.breaker.halfOpenInMs / 1000)} s
              </span>
            )}
          </dd>
          <dt>Consecutive failures</dt>
          <dd data-testid="consecutive-failures">
            {query.data.breaker.state === "open"
              ? // The counts start again with each state (gobreaker's generations): none while open.
                "not counted while open: calls fail fast"
              : `${query.data.breaker.counts.consecutiveFailures} (opens at ${query.data.breaker.consecutiveFailuresToTrip})`}
          </dd>
          <dt>Requests in this window</dt>
          <dd>
            {query.data.breaker.counts.requests} ({query.data.breaker.counts.totalFailures} failed)
          </dd>
          <dt>Retry budget</dt>
          <dd data-testid="budget">
            {query.data.budget.mode === "ratio"
              ? `${query.data.budget.tokens.toFixed(1)} retries left (${Math.round((query.data.budget.ratio ?? 0) * 100)} % of requests + ${query.data.budget.refillPerSecond}/s over ${(query.data.budget.windowMs ?? 0) / 1000} s)`
              : `${query.data.budget.tokens.toFixed(1)} of ${query.data.budget.capacity} tokens, +${query.data.budget.refillPerSecond}/s`}
          </dd>
          <dd className="chart">
            <BudgetChart history={history} capacity={query.data.budget.capacity} />
          </dd>
          {query.data.bulkhead !== undefined && (
            <>
              <dt>Calls to lang</dt>
              <dd data-testid="bulkhead">
                {query.data.bulkhead.inFlight} running of {query.data.bulkhead.maxConcurrent},{" "}
                {query.data.bulkhead.queued} waiting of {query.data.bulkhead.maxQueued}
              </dd>
            </>
          )}
        </dl>
      )}
      {query.data !== undefined && (
        <p className="note">
          Counted as failures: lang answering 400 or above, an attempt timing out after 1 s, lang unreachable (a call
          the client cancels counts as a success). Opens after {query.data.breaker.consecutiveFailuresToTrip} failures
          in a row, for {query.data.breaker.timeoutMs / 1000} s, then lets {query.data.breaker.maxRequests} probes
          through. One breaker for every user of the gateway: one user's failures open it for all.
        </p>
      )}
    </section>
  )
}
