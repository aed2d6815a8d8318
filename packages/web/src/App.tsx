import { useMemo, useState } from "react"
import { describe } from "./clients/ErrorMessage.ts"
import { Alert } from "./components/Alert.tsx"
import { Explorer } from "./components/Explorer.tsx"
import { Greet } from "./components/Greet.tsx"
import { Invoke } from "./components/Invoke.tsx"
import { ResiliencePanel } from "./components/ResiliencePanel.tsx"
import { ServicesMap } from "./components/ServicesMap.tsx"
import { SignIn } from "./components/SignIn.tsx"
import { Traces } from "./components/Traces.tsx"
import { type Navigation, NavigationContext, type View } from "./Navigation.tsx"
import { usePlatform, useTokens } from "./Platform.tsx"

const views: ReadonlyArray<{ readonly view: View; readonly label: string }> = [
  { view: "try", label: "Try it" },
  { view: "services", label: "Services" },
  { view: "traces", label: "Traces" },
  { view: "api", label: "API" },
]

/** The console: sign in; then greet, invoke, watch the gateway's breaker, the services and their traces. */
export function App() {
  const { api, session } = usePlatform()
  const tokens = useTokens()
  const [logoutError, setLogoutError] = useState<string | undefined>(undefined)
  const [view, setView] = useState<View>("try")
  const [selectedTrace, setSelectedTrace] = useState<string | undefined>(undefined)
  const navigation = useMemo<Navigation>(
    () => ({
      view,
      show: setView,
      selectedTrace,
      openTrace: (traceId) => {
        setSelectedTrace(traceId)
        setView("traces")
      },
    }),
    [view, selectedTrace],
  )
  const logout = async () => {
    if (tokens === undefined) return
    try {
      await api.logout()
      setLogoutError(undefined)
    } catch (error) {
      // Signed out here all the same; the refresh token just lives until it expires.
      setLogoutError(describe(error))
    } finally {
      session.signOut()
    }
  }
  return (
    <NavigationContext.Provider value={navigation}>
      <header>
        <h1>effect-platform</h1>
        {tokens !== undefined && (
          <div className="user">
            <span>Signed in as {tokens.email}</span>
            <button type="button" onClick={() => void logout()}>
              Log out
            </button>
          </div>
        )}
      </header>
      <main>
        {logoutError !== undefined && <Alert>{logoutError}</Alert>}
        {tokens === undefined ? (
          <SignIn />
        ) : (
          <>
            <nav className="views" aria-label="views">
              {views.map((entry) => (
                <button
                  key={entry.view}
                  type="button"
                  aria-current={view === entry.view ? "page" : undefined}
                  onClick={() => setView(entry.view)}
                >
                  {entry.label}
                </button>
              ))}
            </nav>
            {view === "try" && (
              <div className="grid">
                <Greet />
                <Invoke />
                <ResiliencePanel />
              </div>
            )}
            {view === "services" && <ServicesMap />}
            {view === "traces" && <Traces />}
            {view === "api" && <Explorer />}
          </>
        )}
      </main>
    </NavigationContext.Provider>
  )
}
