import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { CompactEncrypt, compactDecrypt, type JWK } from "jose"
import { AuthConfig } from "./Config.ts"
import { InvalidKeyMaterial } from "./SigningKey.ts"

/**
 * How private signing keys are kept in auth_db: sealed with the key-encryption key the operator
 * gives (`AUTH_KEY_ENCRYPTION_KEY`, from a Secret), so a copy of the database, a backup or a
 * read-only role does not hold what signs every token. Sealed with jose's JWE (`dir`, A256GCM),
 * authenticated, so a tampered row fails to open rather than yielding a different key. Without
 * the key, keys are stored as JWK text, as before, and the log says so.
 */
export class KeyVault extends Context.Service<
  KeyVault,
  {
    /** Whether `seal` encrypts (a key-encryption key is configured). */
    readonly encrypts: boolean
    readonly seal: (jwk: JWK) => Effect.Effect<string, InvalidKeyMaterial>
    /** Sealed or plain: rows written before the key was configured still open. */
    readonly open: (stored: string) => Effect.Effect<JWK, InvalidKeyMaterial>
    readonly isSealed: (stored: string) => boolean
  }
>()("auth/KeyVault") {
  static readonly layer = Layer.effect(
    KeyVault,
    Effect.map(AuthConfig, (config) => make(Option.map(config.keyEncryptionKey, Redacted.value))),
  )
}

const PrivateJwk = Schema.fromJsonString(Schema.Record(Schema.String, Schema.Unknown))

/** A compact JWE has five base64url parts; a stored JWK is JSON and starts with `{`. */
const isSealed = (stored: string) => stored.split(".").length === 5 && !stored.trimStart().startsWith("{")

const parse = (text: string) =>
  Schema.decodeUnknownEffect(PrivateJwk)(text).pipe(
    Effect.map((jwk) => jwk as JWK),
    Effect.mapError(() => new InvalidKeyMaterial({ message: "a stored signing key is not a JWK" })),
  )

export const make = (key: Option.Option<Uint8Array>) =>
  KeyVault.of({
    encrypts: Option.isSome(key),
    isSealed,
    seal: (jwk) =>
      Option.match(key, {
        onNone: () => Effect.succeed(JSON.stringify(jwk)),
        onSome: (secret) =>
          Effect.tryPromise({
            try: () =>
              new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
                .setProtectedHeader({ alg: "dir", enc: "A256GCM", cty: "jwk+json" })
                .encrypt(secret),
            catch: (error) => new InvalidKeyMaterial({ message: `cannot seal a signing key: ${String(error)}` }),
          }),
      }),
    open: (stored) => {
      if (!isSealed(stored)) return parse(stored)
      if (Option.isNone(key)) {
        return Effect.fail(
          new InvalidKeyMaterial({
            message:
              "the signing keys in auth_db are encrypted: set AUTH_KEY_ENCRYPTION_KEY to the key they were sealed with",
          }),
        )
      }
      return Effect.tryPromise({
        try: () => compactDecrypt(stored, key.value),
        catch: () =>
          new InvalidKeyMaterial({
            message:
              "a signing key in auth_db does not open with AUTH_KEY_ENCRYPTION_KEY (another key, or the row was altered)",
          }),
      }).pipe(Effect.flatMap(({ plaintext }) => parse(new TextDecoder().decode(plaintext))))
    },
  })
