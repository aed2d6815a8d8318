import { type FormEvent, useState } from "react"
import { describe } from "../clients/ErrorMessage.ts"
import { usePlatform } from "../Platform.tsx"
import { Alert } from "./Alert.tsx"

/** Sign up (then in) or log in with an email and a password. */
export function SignIn() {
  const { api, session } = usePlatform()
  const [email, setEmail] = useState("")
  const [password, setPassword] = useState("")
  const [busy, setBusy] = useState<"signup" | "login" | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)

  const submit = (mode: "signup" | "login") => async (event?: FormEvent) => {
    event?.preventDefault()
    setBusy(mode)
    setError(undefined)
    try {
      if (mode === "signup") await api.register(email, password)
      session.signIn(await api.login(email, password))
    } catch (failure) {
      setError(describe(failure))
    } finally {
      setBusy(undefined)
    }
  }

  return (
    <section className="card" aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in</h2>
      <form onSubmit={submit("login")}>
        <label>
          Email
          <input
            type="email"
            name="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            minLength={8}
            required
          />
        </label>
        <div className="actions">
          <button type="submit" disabled={busy !== undefined}>
            {busy === "login" ? "Logging in…" : "Log in"}
          </button>
          <button type="button" disabled={busy !== undefined} onClick={() => void submit("signup")()}>
            {busy === "signup" ? "Signing up…" : "Sign up"}
          </button>
        </div>
      </form>
      {error !== undefined && <Alert>{error}</Alert>}
    </section>
  )
}
