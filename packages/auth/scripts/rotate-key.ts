/** `pnpm --dir packages/auth rotate-key`: a new signing key in the database `DATABASE_URL` names. */
import * as Database from "@platform/shared/Database"
import * as Main from "@platform/shared/Main"
import { Effect, Layer } from "effect"
import * as App from "../src/App.ts"
import { AuthConfig } from "../src/Config.ts"
import { rotate } from "../src/KeyRotation.ts"
import { KeyVault } from "../src/KeyVault.ts"
import { migrations } from "../src/persistence/migrations/index.ts"
import { SigningKeysRepo } from "../src/persistence/SigningKeysRepo.ts"

Main.runTask(
  App.defaults,
  rotate.pipe(
    Effect.provide([SigningKeysRepo.layer.pipe(Layer.provide(Database.layer(migrations))), KeyVault.layer]),
    Effect.provide(AuthConfig.layer),
  ),
)
