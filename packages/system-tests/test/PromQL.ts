import { parser } from "@prometheus-io/lezer-promql"

/**
 * What an alert rule or a dashboard query reads, by Prometheus' own PromQL grammar (the
 * parser Prometheus' web UI uses): the series it selects and the labels it matches or groups
 * by, or where it does not parse.
 */
export interface Selector {
  readonly metric: string
  /** Labels the selector matches on (`{status=~"5.."}`). */
  readonly labels: ReadonlyArray<string>
}

export interface Query {
  readonly selectors: ReadonlyArray<Selector>
  /** Labels named in `by (...)`, `without (...)`, `on (...)` and `ignoring (...)`. */
  readonly grouping: ReadonlyArray<string>
  /** Where the grammar gave up, as offsets into the expression; empty when it parses. */
  readonly errors: ReadonlyArray<number>
}

/** Grafana's interval variables become a plain duration, so the query is PromQL again. */
export const withoutGrafanaVariables = (expr: string) => expr.replace(/\$__(rate_)?interval|\$__range/g, "5m")

export const parse = (expr: string): Query => {
  const selectors: Array<Selector> = []
  const grouping: Array<string> = []
  const errors: Array<number> = []
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from)
      if (node.name === "VectorSelector") {
        const metric = node.node.getChild("Identifier")
        const labels: Array<string> = []
        const matchers = node.node.getChild("LabelMatchers")
        matchers?.cursor().iterate((child) => {
          if (child.name === "LabelName") labels.push(expr.slice(child.from, child.to))
        })
        if (metric !== null) selectors.push({ metric: expr.slice(metric.from, metric.to), labels })
        return false
      }
      if (node.name === "GroupingLabels") {
        node.node.cursor().iterate((child) => {
          if (child.name === "LabelName") grouping.push(expr.slice(child.from, child.to))
        })
        return false
      }
      return undefined
    },
  })
  return { selectors, grouping, errors }
}
