/**
 * Baseline: a plain Effect HttpApi handler, no database: lang's `POST /invoke` contract on
 * Effect's Node server, without the kernel (no metrics, spans, validation middleware or pool).
 */
import * as http from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"

class Api extends HttpApi.make("baseline").add(
  HttpApiGroup.make("lang").add(
    HttpApiEndpoint.post("invoke", "/invoke", {
      payload: Schema.Struct({ name: Schema.optional(Schema.String) }),
      success: Schema.Struct({ message: Schema.String }),
    }),
  ),
) {}

const Handlers = HttpApiBuilder.group(Api, "lang", (handlers) =>
  handlers.handle("invoke", ({ payload }) =>
    Effect.succeed({ message: `Hello ${payload.name || "World"} from custom-lang-service!` }),
  ),
)

const App = HttpRouter.serve(HttpApiBuilder.layer(Api).pipe(Layer.provide(Handlers)), {
  disableLogger: true,
  disableListenLog: true,
}).pipe(
  Layer.provide(NodeHttpServer.layer(() => http.createServer(), { port: Number(process.env.PORT), host: "127.0.0.1" })),
)

NodeRuntime.runMain(
  Layer.launch(Layer.merge(App, Layer.effectDiscard(Effect.sync(() => process.stdout.write("ready\n"))))),
  { disableErrorReporting: true },
)
