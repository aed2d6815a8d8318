import { Effect } from "effect"
import { KeyVault } from "./KeyVault.ts"
import { SigningKeysRepo } from "./persistence/SigningKeysRepo.ts"
import * as SigningKey from "./SigningKey.ts"

/**
 * Adds a new signing key to auth_db. Every replica signs with it once it reloads its keys (at
 * most a minute, or at once when it meets a token with the new kid); the previous key stays
 * in JWKS for a token lifetime, so tokens signed before the rotation verify until they expire.
 */
export const rotate = Effect.gen(function* () {
  const repo = yield* SigningKeysRepo
  const vault = yield* KeyVault
  const key = yield* SigningKey.generate
  yield* repo.add({ kid: key.kid, privateJwk: yield* vault.seal(key.privateJwk) })
  yield* Effect.logInfo(`added signing key ${key.kid}; it signs from now on, the previous key still verifies`)
  return key.kid
})
