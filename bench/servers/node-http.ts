/**
 * Baseline: the ceiling of Node here. A plain `node:http` handler that reads the body and
 * answers a small JSON message; no routing, no validation, no database.
 */
import * as http from "node:http"
import { listen } from "./listen.ts"

listen(
  http.createServer((request, response) => {
    request.resume()
    request.on("end", () => {
      const body = JSON.stringify({ message: "Hello Bench from node:http!" })
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      response.end(body)
    })
  }),
)
