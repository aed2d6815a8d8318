import type { ServiceStatus } from "@platform/contracts/DashboardApi"
import { useQuery } from "@tanstack/react-query"
import { describe } from "../clients/ErrorMessage.ts"
import { authorized, usePlatform } from "../Platform.tsx"
import { DashboardUnavailable, isDashboardMissing } from "./DashboardUnavailable.tsx"

const percent = (ratio: number) => `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.01 ? 2 : 0)} %`
const rate = (perSecond: number) => (perSecond >= 10 ? perSecond.toFixed(0) : perSecond.toFixed(1))

function ServiceCard({ service }: { readonly service: ServiceStatus }) {
  return (
    <li
      className={`service service-${service.health}`}
      data-testid={`service-${service.name}`}
      data-health={service.health}
      aria-label={`${service.name}: ${service.health}`}
    >
      <header>
        <span className={`dot dot-${service.health}`} aria-hidden="true" />
        <strong>{service.name}</strong>
        <span className="muted">:{service.port}</span>
      </header>
      {service.reason !== null && <p className="reason">{service.reason}</p>}
      <dl className="figures">
        <dt>req/s</dt>
        <dd>{rate(service.requestsPerSecond)}</dd>
        <dt>5xx</dt>
        <dd className={service.errorRatio > 0 ? "bad" : undefined}>{percent(service.errorRatio)}</dd>
        <dt>p99</dt>
        <dd>{service.p99Ms === null ? "–" : `≤ ${service.p99Ms} ms`}</dd>
      </dl>
      {service.database !== null && (
        <p className={`database database-${service.database.state}`} data-testid={`database-${service.name}`}>
          <span className={`dot dot-${service.database.state === "down" ? "down" : "up"}`} aria-hidden="true" />
          {service.database.name} {service.database.state === "up" ? "" : `(${service.database.state})`}
        </p>
      )}
      {service.calls.length > 0 && <p className="calls">→ {service.calls.join(", ")}</p>}
    </li>
  )
}

/** Every service of `./platform start`, its health and figures, refreshed as the dashboard refreshes. */
export function ServicesMap() {
  const { api, session } = usePlatform()
  const query = useQuery({
    queryKey: ["services"],
    queryFn: () => authorized(session, api.services),
    refetchInterval: 2000,
    retry: false,
  })
  if (query.isError) {
    return isDashboardMissing(query.error) ? <DashboardUnavailable /> : <p role="alert">{describe(query.error)}</p>
  }
  if (query.data === undefined) return <p>Loading…</p>
  // The edge first, as requests arrive; then who it calls; then what they call.
  const order = ["edge", "auth", "greeter", "gateway", "caller", "lang"]
  const services = [...query.data.services].sort(
    (a, b) => (order.indexOf(a.name) + 1 || 99) - (order.indexOf(b.name) + 1 || 99),
  )
  const down = services.filter((service) => service.health === "down").length
  return (
    <section className="card wide" aria-labelledby="services-title">
      <h2 id="services-title">Services</h2>
      <p className="muted" data-testid="services-summary">
        {down === 0 ? `All ${services.length} services up` : `${down} of ${services.length} services down`}, refreshed
        every {query.data.refreshEveryMs / 1000} s
      </p>
      <ul className="services" aria-label="services">
        {services.map((service) => (
          <ServiceCard key={service.name} service={service} />
        ))}
      </ul>
    </section>
  )
}
