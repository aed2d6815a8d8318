import { useState } from "react"
import { describe } from "./clients/ErrorMessage.ts"
import { Alert } from "./components/Alert.tsx"
import { Greet } from "./components/Greet.tsx"
import { Invoke } from "./components/Invoke.tsx"
import { ResiliencePanel } from "./components/ResiliencePanel.tsx"
import { SignIn } from "./components/SignIn.tsx"
import { usePlatform, useTokens } from "./Platform.tsx"

/** The console: sign in; then greet, invoke, and watch the gateway's breaker. */
export function App() {
  const { api, session } = usePlatform()
  const tokens = useTokens()
  const [logoutError, setLogoutError] = useState<string | undefined>(undefined)
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
    <>
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
          <div className="grid">
            <Greet />
            <Invoke />
            <ResiliencePanel />
          </div>
        )}
      </main>
    </>
  )
}
