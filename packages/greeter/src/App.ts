import * as HealthAnswers from "@platform/contracts/Health"
import * as Database from "@platform/shared/Database"
import * as Health from "@platform/shared/Health"
import * as Server from "@platform/shared/Server"
import { Layer } from "effect"
import { GreeterConfig } from "./Config.ts"
import { CallerClient } from "./clients/CallerClient.ts"
import { Greeter } from "./Greeter.ts"
import { GreeterConnect } from "./inbound/Connect.ts"
import { GreetingsRepo } from "./persistence/GreetingsRepo.ts"
import { migrations } from "./persistence/migrations/index.ts"

export const defaults = { name: "greeter", port: 8080 } as const

const Persistence = Database.layerOptional({
  migrations,
  enabled: GreetingsRepo.layer,
  disabled: GreetingsRepo.disabled,
})

const Domain = Greeter.layer.pipe(Layer.provide(CallerClient.layer), Layer.provide(GreeterConfig.layer))

const Routes = Layer.mergeAll(GreeterConnect, Health.layer(HealthAnswers.connectServices))

/** greeter on the given HTTP server. */
export const layer = <E, R>(server: Layer.Layer<Server.Services, E, R>) =>
  Server.serve(Routes).pipe(Layer.provideMerge(server), Layer.provide(Domain), Layer.provide(Persistence))
