import type { Jwks } from "@platform/contracts/AuthApi"
import { DatabaseHealth } from "@platform/shared/Database"
import { Clock, Context, Duration, Effect, Layer, Option, Ref, Schedule, Semaphore } from "effect"
import { AuthConfig } from "./Config.ts"
import { DatabaseUnavailable } from "./errors.ts"
import { KeyVault } from "./KeyVault.ts"
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
    /** Fails while the stored keys have not been loaded yet (auth started without its database). */
    readonly current: Effect.Effect<SigningKey.SigningKey, DatabaseUnavailable>
    readonly jwks: Effect.Effect<Jwks, DatabaseUnavailable>
    /** The published key with this kid; an unknown kid reloads the ring (at most once a second). */
    readonly find: (kid: string) => Effect.Effect<Option.Option<SigningKey.SigningKey>, DatabaseUnavailable>
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
      const database = yield* DatabaseHealth
      const vault = yield* KeyVault
      // Tokens live `tokenTtl`: a key stays published that long after its successor took over.
      const publishedFor = Duration.sum(config.tokenTtl, Duration.minutes(1))
      const ringOf = Effect.fnUntraced(function* (rows: ReadonlyArray<StoredKey>) {
        const now = yield* Clock.currentTimeMillis
        const live = rows.filter(
          (_, i) => i === 0 || (rows[i - 1] as StoredKey).created_at.getTime() > now - Duration.toMillis(publishedFor),
        )
        return ring(
          yield* Effect.forEach(live, (row) => Effect.flatMap(vault.open(row.private_jwk), SigningKey.fromPrivateJwk)),
        )
      })
      const load = Effect.flatMap(repo.all, ringOf)
      // Keys stored before AUTH_KEY_ENCRYPTION_KEY was set are sealed in place at the next start;
      // without the key, the log says the keys are stored in the clear.
      const sealStored = Effect.fnUntraced(function* (rows: ReadonlyArray<StoredKey>) {
        if (!vault.encrypts) {
          if (rows.some((row) => !vault.isSealed(row.private_jwk))) {
            yield* Effect.logWarning(
              "signing keys are stored unencrypted in auth_db: set AUTH_KEY_ENCRYPTION_KEY (openssl rand -base64 32) to seal them",
            )
          }
          return
        }
        const plain = rows.filter((row) => !vault.isSealed(row.private_jwk))
        for (const row of plain) {
          const sealed = yield* Effect.flatMap(vault.open(row.private_jwk), vault.seal)
          yield* repo.replace({ kid: row.kid, privateJwk: sealed })
        }
        if (plain.length > 0)
          yield* Effect.logInfo(`sealed ${plain.length} stored signing key(s) with AUTH_KEY_ENCRYPTION_KEY`)
      })
      const keys = yield* Ref.make(Option.none<KeyRing>())
      const loadedAt = yield* Ref.make(yield* Clock.currentTimeMillis)
      // The keys live in the database: until it has answered once, auth signs and verifies
      // nothing (503) rather than inventing a key other replicas would not know.
      const firstLoad = Effect.gen(function* () {
        const created = yield* repo.ensureOne(
          Effect.flatMap(SigningKey.generate, (key) =>
            Effect.map(vault.seal(key.privateJwk), (privateJwk) => ({ kid: key.kid, privateJwk })),
          ),
        )
        if (created) yield* Effect.logInfo("generated the first signing key and stored it in the database")
        // One read: the rows sealed in place hold the same keys they opened to.
        const rows = yield* repo.all
        yield* sealStored(rows)
        yield* Ref.set(keys, Option.some(yield* ringOf(rows)))
        yield* Ref.set(loadedAt, yield* Clock.currentTimeMillis)
      })
      // A key that does not open (no or another AUTH_KEY_ENCRYPTION_KEY) is the operator's to fix:
      // start-up stops with the reason rather than retrying; an unreachable database is retried.
      const isKeyError = (error: unknown) => error instanceof SigningKey.InvalidKeyMaterial
      const inBackground = database.ready.pipe(
        Effect.andThen(firstLoad),
        Effect.retry({
          schedule: Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("5 seconds")]),
          while: (error) => !isKeyError(error),
        }),
        Effect.andThen(Effect.logInfo("loaded the signing keys from the database")),
        Effect.tapError((error) => Effect.logError(`cannot load the signing keys: ${String(error)}`)),
      )
      if (yield* database.isReady) {
        yield* firstLoad.pipe(
          Effect.catchIf(
            (error) => !isKeyError(error),
            () => Effect.forkScoped(inBackground),
          ),
        )
      } else {
        yield* Effect.forkScoped(inBackground)
      }
      const ringNow = Effect.flatMap(Ref.get(keys), (ring) =>
        Option.match(ring, { onNone: () => Effect.fail(new DatabaseUnavailable()), onSome: Effect.succeed }),
      )
      const reloading = yield* Semaphore.make(1)
      const reload = (reason: string) =>
        reloading.withPermit(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            if (now - (yield* Ref.get(loadedAt)) < RELOAD_INTERVAL_MS) return
            yield* Ref.set(loadedAt, now)
            const next = yield* load
            const before = yield* Ref.getAndSet(keys, Option.some(next))
            if (Option.isSome(before) && before.value.current.kid !== next.current.kid) {
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
        current: Effect.map(ringNow, (ring) => ring.current),
        jwks: Effect.map(ringNow, publish),
        find: (kid) =>
          Effect.gen(function* () {
            const known = (yield* ringNow).byKid.get(kid)
            if (known !== undefined) return Option.some(known)
            yield* reload("unknown kid")
            return Option.fromUndefinedOr((yield* ringNow).byKid.get(kid))
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
