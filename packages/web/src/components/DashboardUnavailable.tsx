/** Compose and Kubernetes have Grafana and Tempo instead of the dashboard `./platform start` runs. */
export const isDashboardMissing = (error: unknown) => {
  const failure = error as {
    readonly _tag?: string
    readonly reason?: { readonly _tag?: string; readonly response?: { status?: number } }
  }
  // The deployments answer `/platform/...` with the console's own page (not JSON), or a 404.
  return (
    failure._tag === "SchemaError" || failure.reason?._tag === "DecodeError" || failure.reason?.response?.status === 404
  )
}

export function DashboardUnavailable() {
  return (
    <section className="card wide">
      <p>
        The services map and traces come with <code>./platform start</code>, which runs the dashboard they are read
        from. In Compose and Kubernetes, Grafana (services) and Tempo (traces) show the same.
      </p>
    </section>
  )
}
