import { createPrivateKey, createPublicKey, type webcrypto } from "node:crypto"
import type { PublicJwk } from "@platform/contracts/AuthApi"
import { Effect, Schema } from "effect"
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose"

/** An RS256 key pair as auth uses it: `kid` is the RFC 7638 thumbprint of the public key. */
export interface SigningKey {
  readonly kid: string
  readonly privateKey: webcrypto.CryptoKey
  readonly publicKey: webcrypto.CryptoKey
  readonly publicJwk: PublicJwk
  /** The private key as a JWK, for storing it. */
  readonly privateJwk: JWK
}

export class InvalidKeyMaterial extends Schema.TaggedError<InvalidKeyMaterial>()("InvalidKeyMaterial", {
  message: Schema.String,
}) {}

const MIN_MODULUS_BITS = 2048

const modulusBits = (jwk: JWK) => Buffer.from(jwk.n ?? "", "base64url").length * 8

/** A signing key from a private RSA JWK (as stored in auth_db or given by the operator). */
export const fromPrivateJwk = (jwk: JWK): Effect.Effect<SigningKey, InvalidKeyMaterial> =>
  Effect.tryPromise({
    try: async () => {
      if (jwk.kty !== "RSA" || jwk.d === undefined || jwk.n === undefined || jwk.e === undefined) {
        throw new Error("expected an RSA private key")
      }
      if (modulusBits(jwk) < MIN_MODULUS_BITS) throw new Error(`RSA keys must have at least ${MIN_MODULUS_BITS} bits`)
      const { kty, n, e } = jwk
      // Only the RSA members: no `kid`, `alg` or `use` from elsewhere travel with the key.
      const members = ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"] as const
      const privateJwk = Object.fromEntries(
        members.flatMap((name) => (jwk[name] === undefined ? [] : [[name, jwk[name]]])),
      ) as JWK
      const kid = await calculateJwkThumbprint({ kty, n, e })
      const publicJwk: PublicJwk = { kty: "RSA", use: "sig", alg: "RS256", kid, n, e }
      const privateKey = (await importJWK({ ...privateJwk, alg: "RS256" }, "RS256")) as webcrypto.CryptoKey
      const publicKey = (await importJWK({ kty, n, e, alg: "RS256" }, "RS256")) as webcrypto.CryptoKey
      return { kid, privateKey, publicKey, publicJwk, privateJwk }
    },
    catch: (error) => new InvalidKeyMaterial({ message: (error as Error).message }),
  })

/** A new 2048-bit RSA key. */
export const generate: Effect.Effect<SigningKey, InvalidKeyMaterial> = Effect.flatMap(
  Effect.promise(async () => {
    const { privateKey } = await generateKeyPair("RS256", { extractable: true, modulusLength: MIN_MODULUS_BITS })
    return exportJWK(privateKey)
  }),
  fromPrivateJwk,
)

/** Whether the PEM public key `pem` is the public half of `key` (same modulus and exponent). */
export const isPublicHalf = (pem: string, key: SigningKey): Effect.Effect<boolean, InvalidKeyMaterial> =>
  Effect.try({
    try: () => {
      const jwk = createPublicKey(pem.trim()).export({ format: "jwk" }) as JWK
      return jwk.n === key.publicJwk.n && jwk.e === key.publicJwk.e
    },
    catch: (error) =>
      new InvalidKeyMaterial({ message: `RSA_PUBLIC_KEY: cannot read a PEM public key: ${(error as Error).message}` }),
  })

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g

/**
 * The keys an operator configured: one or more PEM blocks (PKCS#1 or PKCS#8), a JWK, or a JWK
 * Set. The first key signs; all of them verify.
 */
export const parseConfigured = (text: string): Effect.Effect<ReadonlyArray<SigningKey>, InvalidKeyMaterial> =>
  Effect.gen(function* () {
    const trimmed = text.trim()
    const jwks: Array<JWK> = []
    if (trimmed.startsWith("{")) {
      const parsed = yield* Effect.try({
        try: () => JSON.parse(trimmed) as { keys?: Array<JWK> } & JWK,
        catch: () => new InvalidKeyMaterial({ message: "the JWK is not valid JSON" }),
      })
      jwks.push(...(Array.isArray(parsed.keys) ? parsed.keys : [parsed]))
    } else {
      for (const [block] of trimmed.matchAll(PEM_BLOCK)) {
        const jwk = yield* Effect.try({
          try: () => createPrivateKey(block).export({ format: "jwk" }) as JWK,
          catch: (error) =>
            new InvalidKeyMaterial({ message: `cannot read a PEM private key: ${(error as Error).message}` }),
        })
        jwks.push(jwk)
      }
    }
    if (jwks.length === 0) {
      return yield* new InvalidKeyMaterial({ message: "expected RSA private keys in PEM or JWK form" })
    }
    return yield* Effect.forEach(jwks, fromPrivateJwk)
  })
