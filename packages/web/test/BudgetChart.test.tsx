// @vitest-environment jsdom
import { cleanup, render, screen } from "@testing-library/react"
import { afterEach, assert, describe, it } from "vitest"
import { BudgetChart, HISTORY } from "../src/components/BudgetChart.tsx"

afterEach(cleanup)

describe("BudgetChart", () => {
  it("a point per sample, right-aligned in the window, full at the top and empty at the bottom", () => {
    const history = [20, 10, 0].map((tokens, i) => ({ at: i * 1000, tokens }))
    render(<BudgetChart history={history} capacity={20} />)
    const chart = screen.getByTestId("budget-chart")
    assert.strictEqual(chart.getAttribute("aria-label"), "retry budget tokens over the last 2 s")
    const points = chart.querySelector("polyline")?.getAttribute("points")
    assert.strictEqual(points, `${HISTORY - 3},0.00 ${HISTORY - 2},20.00 ${HISTORY - 1},40.00`)
  })

  it("nothing to draw from one sample", () => {
    const { container } = render(<BudgetChart history={[{ at: 0, tokens: 5 }]} capacity={20} />)
    assert.strictEqual(container.innerHTML, "")
  })
})
