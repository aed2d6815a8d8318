import { randomBytes } from "node:crypto"
import bcrypt from "bcrypt"
import { Context, Effect, Layer } from "effect"

/** The contract's bcrypt cost. */
export const COST = 10

/**
 * bcrypt through the native binding, whose async calls hash on libuv's thread pool rather
 * than on the event loop. A login for an unknown email compares against a dummy hash, so it
 * takes as long as one for a known email.
 */
export class Passwords extends Context.Service<
  Passwords,
  {
    readonly hash: (password: string) => Effect.Effect<string>
    /** False for a wrong password, for no account (`hash` undefined) and for an unreadable hash. */
    readonly verify: (password: string, hash: string | undefined) => Effect.Effect<boolean>
  }
>()("auth/Passwords") {
  static readonly layer = Layer.effect(
    Passwords,
    Effect.gen(function* () {
      const dummy = yield* Effect.promise(() => bcrypt.hash(randomBytes(18).toString("base64"), COST))
      return Passwords.of({
        hash: (password) => Effect.promise(() => bcrypt.hash(password, COST)).pipe(Effect.withSpan("Passwords.hash")),
        verify: (password, hash) =>
          Effect.tryPromise(() => bcrypt.compare(password, hash ?? dummy)).pipe(
            Effect.map((matches) => matches && hash !== undefined),
            Effect.orElseSucceed(() => false),
            Effect.withSpan("Passwords.verify"),
          ),
      })
    }),
  )
}
