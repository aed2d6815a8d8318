import type { Jwks } from "@platform/contracts/AuthApi"
import { Clock, Context, Duration, Effect, Layer, Option, Ref, Schedule, Semaphore } from "effect"
import type { JWK } from "jose"
import { AuthConfig } from "./Config.ts"
import { SigningKeysRepo, type StoredKey } from "./persistence/SigningKeysRepo.ts"
import * as SigningKey from "./SigningKey.ts"

/**
 * The keys auth signs and verifies with, held in memory so that `/verify` touches no database.
 * The newest key signs; JWKS publishes it and every older key whose tokens may still be valid.
 */
export interface KeyRing {
  readonly current: SigningKey.SigningKey
  readonly published: ReadonlyArray<SigningKey.SigningKey>
  readonly byKid: ReadonlyMap<string, SigningKey.SigningKey>
}

const ring = (keys: ReadonlyArray<SigningKey.SigningKey>): KeyRing => ({
  current: keys[0] as SigningKey.SigningKey,
  published: keys,
  byKid: new Map(keys.map((key) => [key.kid, key])),
})

export class SigningKeys extends Context.Service<
  SigningKeys,
  {
    readonly current: Effect.Effect<SigningKey.SigningKey>
    readonly jwks: Effect.Effect<Jwks>
    /** The published key with this kid; an unknown kid reloads the ring (at most once a second). */
    readonly find: (kid: string) => Effect.Effect<Option.Option<SigningKey.SigningKey>>
  }
>()("auth/SigningKeys") {
  /** Keys in auth_db, shared by every replica; the first start creates one. */
  static readonly layerStored = Layer.effect(
    SigningKeys,
    Effect.gen(function* () {
      const configured = yield* configuredKeys
      if (Option.isSome(configured)) return fixed(configured.value)
      const config = yield* AuthConfig
      const repo = yield* SigningKeysRepo
      const created = yield* repo.ensureOne(
        Effect.map(SigningKey.generate, (key) => ({ kid: key.kid, privateJwk: key.privateJwk })),
      )
      if (created) yield* Effect.logInfo("generated the first signing key and stored it in the database")
      // Tokens live `tokenTtl`: a key stays published that long after its successor took over.
      const publishedFor = Duration.sum(config.tokenTtl, Duration.minutes(1))
      const load = Effect.gen(function* () {
        const rows = yield* repo.all
        const now = yield* Clock.currentTimeMillis
        const live = rows.filter(
          (_, i) => i === 0 || (rows[i - 1] as StoredKey).created_at.getTime() > now - Duration.toMillis(publishedFor),
        )
        return ring(yield* Effect.forEach(live, (row) => SigningKey.fromPrivateJwk(JSON.parse(row.private_jwk) as JWK)))
      })
      const keys = yield* Ref.make(yield* load)
      const loadedAt = yield* Ref.make(yield* Clock.currentTimeMillis)
      const reloading = yield* Semaphore.make(1)
      const reload = (reason: string) =>
        reloading.withPermit(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            if (now - (yield* Ref.get(loadedAt)) < RELOAD_INTERVAL_MS) return
            yield* Ref.set(loadedAt, now)
            const next = yield* load
            const before = yield* Ref.getAndSet(keys, next)
            if (before.current.kid !== next.current.kid) {
              yield* Effect.logInfo(`signing with key ${next.current.kid} (${reason})`)
            }
          }).pipe(Effect.catchCause((cause) => Effect.logWarning("could not reload the signing keys", cause))),
        )
      // Rotation on another replica (or by the rotate-key command) reaches this one within a minute.
      yield* reload("periodic refresh").pipe(
        Effect.repeat(Schedule.spaced(REFRESH_INTERVAL)),
        Effect.delay(REFRESH_INTERVAL),
        Effect.forkScoped,
      )
      return SigningKeys.of({
        current: Effect.map(Ref.get(keys), (ring) => ring.current),
        jwks: Effect.map(Ref.get(keys), publish),
        find: (kid) =>
          Effect.gen(function* () {
            const known = (yield* Ref.get(keys)).byKid.get(kid)
            if (known !== undefined) return Option.some(known)
            yield* reload("unknown kid")
            return Option.fromUndefinedOr((yield* Ref.get(keys)).byKid.get(kid))
          }),
      })
    }),
  )

  /**
   * Without a database: the configured keys, or one generated at start-up that dies with the
   * process (as in the original service), which the log says.
   */
  static readonly layerEphemeral = Layer.effect(
    SigningKeys,
    Effect.gen(function* () {
      const configured = yield* configuredKeys
      if (Option.isSome(configured)) return fixed(configured.value)
      yield* Effect.logWarning(
        "no database and no AUTH_PRIVATE_KEY: signing with a key generated for this process; its tokens die with it",
      )
      return fixed([yield* SigningKey.generate])
    }),
  )
}

const RELOAD_INTERVAL_MS = 1000
const REFRESH_INTERVAL = Duration.minutes(1)

const publish = (keys: KeyRing): Jwks => ({ keys: keys.published.map((key) => key.publicJwk) })

const fixed = (keys: ReadonlyArray<SigningKey.SigningKey>) => {
  const keyRing = ring(keys)
  return SigningKeys.of({
    current: Effect.succeed(keyRing.current),
    jwks: Effect.succeed(publish(keyRing)),
    find: (kid) => Effect.succeed(Option.fromUndefinedOr(keyRing.byKid.get(kid))),
  })
}

/**
 * `AUTH_PRIVATE_KEY(_FILE)` or `RSA_PRIVATE_KEY` when the operator set one; a bad key, or an
 * `RSA_PUBLIC_KEY` that is not the public half of the signing key, stops start-up with the reason.
 */
const configuredKeys = Effect.gen(function* () {
  const config = yield* AuthConfig
  if (Option.isNone(config.privateKeys)) {
    if (Option.isSome(config.publicKey)) {
      return yield* new SigningKey.InvalidKeyMaterial({ message: "RSA_PUBLIC_KEY: set RSA_PRIVATE_KEY with it" })
    }
    return Option.none()
  }
  const { text, from } = config.privateKeys.value
  const keys = yield* SigningKey.parseConfigured(text).pipe(
    Effect.mapError((error) => new SigningKey.InvalidKeyMaterial({ message: `${from}: ${error.message}` })),
  )
  const signer = keys[0] as SigningKey.SigningKey
  if (Option.isSome(config.publicKey)) {
    const matches = yield* SigningKey.isPublicHalf(config.publicKey.value, signer)
    if (!matches) {
      return yield* new SigningKey.InvalidKeyMaterial({
        message: `RSA_PUBLIC_KEY: not the public half of the key in ${from}`,
      })
    }
  }
  yield* Effect.logInfo(`signing with the configured key ${signer.kid}; ${keys.length} key(s) verify`)
  return Option.some(keys)
})
