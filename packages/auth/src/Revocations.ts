import * as ErrorMessage from "@platform/shared/ErrorMessage"
import { Clock, Context, Duration, Effect, Layer, Schedule } from "effect"
import { AuthConfig } from "./Config.ts"
import { RefreshTokensRepo } from "./persistence/RefreshTokensRepo.ts"

/**
 * Revocations are read again this far back on every look: `revoked_at` is the revoking
 * statement's start, so a slow commit can land behind a later one that was already read.
 */
const OVERLAP_MS = 10_000

/**
 * The sessions whose access tokens `/verify` refuses before they expire: each one logged out, or
 * ended because a refresh token was reused. A session is the refresh-token family its access
 * tokens name in their `sid` claim. This replica knows its own revocations at once; every
 * replica reads auth_db's every `AUTH_REVOCATION_POLL_MS` (1 s), so a logout holds everywhere
 * within that. A revocation is kept one access-token lifetime, after which no token of the
 * session can be valid anyway; a lookup is a `Map`'s, so `/verify` stays as cheap as its cache.
 * Tokens without `sid` (issued by the original service) cannot be revoked, as before.
 */
export class Revocations extends Context.Service<
  Revocations,
  {
    readonly isRevoked: (session: string) => Effect.Effect<boolean>
    /** Known here at once (the database already has it). */
    readonly revoke: (session: string) => Effect.Effect<void>
  }
>()("auth/Revocations") {
  static readonly layer = Layer.effect(
    Revocations,
    Effect.gen(function* () {
      const config = yield* AuthConfig
      const repo = yield* RefreshTokensRepo
      const lifetimeMs = Duration.toMillis(config.tokenTtl)
      /** Session -> when it was revoked, epoch milliseconds. */
      const revoked = new Map<string, number>()
      let newest = (yield* Clock.currentTimeMillis) - lifetimeMs
      let failing = false

      const look = Effect.gen(function* () {
        const families = yield* repo.revokedSince(newest - OVERLAP_MS)
        for (const family of families) {
          revoked.set(family.family_id, family.revoked_ms)
          newest = Math.max(newest, family.revoked_ms)
        }
        const now = yield* Clock.currentTimeMillis
        for (const [session, at] of revoked) if (at < now - lifetimeMs - OVERLAP_MS) revoked.delete(session)
        if (failing) yield* Effect.logInfo("reading revoked sessions again")
        failing = false
      }).pipe(
        Effect.catch((error) => {
          if (failing) return Effect.void
          failing = true
          // The database layer says when it is away; this says what it costs.
          return Effect.logWarning(
            `revoked sessions cannot be read (${ErrorMessage.describe(error)}): sessions ended on other replicas are accepted here until they can`,
          )
        }),
      )
      yield* Effect.forkScoped(Effect.repeat(look, Schedule.spaced(config.revocationPoll)))

      return Revocations.of({
        isRevoked: (session) => Effect.sync(() => revoked.has(session)),
        revoke: (session) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => void revoked.set(session, now))),
      })
    }),
  )

  /** Without a database there are no sessions to end. */
  static readonly none = Layer.succeed(Revocations, {
    isRevoked: () => Effect.succeed(false),
    revoke: () => Effect.void,
  })
}
