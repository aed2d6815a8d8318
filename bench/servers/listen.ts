import type * as http from "node:http"

/**
 * Every baseline server the same way: on `PORT` (loopback), one `ready` line when it listens,
 * gone on SIGTERM. The harness starts each in its own process, as the platform's services run.
 */
export const listen = (server: http.Server, onClose: () => Promise<void> = async () => {}) => {
  server.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("ready\n"))
  process.once("SIGTERM", () => {
    server.close()
    server.closeAllConnections()
    void onClose().finally(() => process.exit(0))
  })
}
