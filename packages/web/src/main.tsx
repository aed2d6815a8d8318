import { TransportProvider } from "@connectrpc/connect-query"
import { QueryClient, QueryClientProvider } from "@tanstack/react-query"
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { makeApi } from "./Api.ts"
import { App } from "./App.tsx"
import { PlatformContext } from "./Platform.tsx"
import { makeSession } from "./Session.ts"
import { makeTransport } from "./Transport.ts"
import "./styles.css"

// Everything is on the page's own origin: the edge routes the APIs, and serves this page.
const origin = window.location.origin
const api = makeApi(origin)
const session = makeSession({ refresh: api.refresh, storage: window.localStorage })
const transport = makeTransport(origin, session)
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
