import { QueryClient, QueryClientProvider } from "@tanstack/react-query"
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { App } from "./App.tsx"
import { makeApi } from "./clients/Api.ts"
import { TransportProvider } from "./clients/Rpc.ts"
import { makeTransport } from "./clients/Transport.ts"
import { PlatformContext } from "./Platform.tsx"
import { makeSession } from "./Session.ts"
import "./styles.css"

// Everything is on the page's own origin: the edge routes the APIs, and serves this page.
const origin = window.location.origin
const api = makeApi(origin)
const session = makeSession({ refresh: api.refresh, storage: window.localStorage })
const transport = makeTransport(origin, session)
// Signed in before this reload: the refresh cookie gives a new access token before the first paint.
await session.resume()
const queryClient = new QueryClient({ defaultOptions: { mutations: { retry: false } } })

const root = document.getElementById("root")
if (root === null) throw new Error("index.html has no #root")
createRoot(root).render(
  <StrictMode>
    <PlatformContext.Provider value={{ api, session }}>
      <TransportProvider transport={transport}>
        <QueryClientProvider client={queryClient}>
          <App />
        </QueryClientProvider>
      </TransportProvider>
    </PlatformContext.Provider>
  </StrictMode>,
)
