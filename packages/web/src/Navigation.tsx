import { createContext, useContext } from "react"

/** The console's views, and the trace a link asked to open. */
export type View = "try" | "services" | "traces" | "api"

export interface Navigation {
  readonly view: View
  readonly show: (view: View) => void
  /** Opens the traces view on this trace (an outcome's "trace" link). */
  readonly openTrace: (traceId: string) => void
  readonly selectedTrace: string | undefined
}

export const NavigationContext = createContext<Navigation>({
  view: "try",
  show: () => {},
  openTrace: () => {},
  selectedTrace: undefined,
})

export const useNavigation = () => useContext(NavigationContext)
