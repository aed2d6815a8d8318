import * as CallerApp from "@platform/caller/App"
import * as ExternalStub from "@platform/platform/ExternalStub"
import * as TestDatabase from "@platform/testkit/TestDatabase"
import * as TestServer from "@platform/testkit/TestServer"
import { Effect } from "effect"

/**
 * What greeter's tests call: a real caller on loopback, on a fresh database named `database`,
 * and the external stand-in it fetches (allowed, though it is on loopback). Both stop with the scope.
 */
export const start = (database: string) =>
  Effect.gen(function* () {
    const stub = yield* Effect.acquireRelease(
      Effect.promise(() => ExternalStub.start()),
      (stub) => Effect.promise(stub.close),
    )
    const callerDatabase = yield* TestDatabase.freshDatabase(database)
    const callerUrl = yield* TestServer.serve(CallerApp, {
      DATABASE_URL: callerDatabase.href,
      CALLER_ALLOW_PRIVATE_NETWORKS: "true",
    })
    return { callerUrl, stub }
  })
