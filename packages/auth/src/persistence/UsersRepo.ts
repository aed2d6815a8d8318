import { randomUUID } from "node:crypto"
import * as Database from "@platform/shared/Database"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError, SqlSchema } from "effect/sql"

export const UserRow = Schema.Struct({
  id: Schema.String,
  email: Schema.String,
  password_hash: Schema.String,
  role: Schema.String,
})
export type UserRow = typeof UserRow.Type

export class UsersRepo extends Context.Service<
  UsersRepo,
  {
    /** `None` when the email is already registered (the unique constraint decides, not a race). */
    readonly insert: (user: {
      readonly email: string
      readonly password_hash: string
    }) => Effect.Effect<Option.Option<UserRow>, SqlError.SqlError | Schema.SchemaError>
    readonly findByEmail: (
      email: string,
    ) => Effect.Effect<Option.Option<UserRow>, SqlError.SqlError | Schema.SchemaError>
    readonly findById: (id: string) => Effect.Effect<Option.Option<UserRow>, SqlError.SqlError | Schema.SchemaError>
  }
>()("auth/UsersRepo") {
  static readonly layer = Layer.effect(
    UsersRepo,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const insert = SqlSchema.findOneOption({
        Request: Schema.Struct({ email: Schema.String, password_hash: Schema.String }),
        Result: UserRow,
        execute: (user) => sql`
          INSERT INTO users ${sql.insert(user)}
          ON CONFLICT (email) DO NOTHING
          RETURNING id::text, email, password_hash, role`,
      })
      const findByEmail = SqlSchema.findOneOption({
        Request: Schema.String,
        Result: UserRow,
        // Emails the original service stored keep their case; ours are stored lower-cased.
        execute: (email) => sql`
          SELECT id::text, email, password_hash, role FROM users
          WHERE lower(email) = ${email} ORDER BY created_at LIMIT 1`,
      })
      const findById = SqlSchema.findOneOption({
        Request: Schema.String,
        Result: UserRow,
        execute: (id) => sql`SELECT id::text, email, password_hash, role FROM users WHERE id = ${id}::uuid`,
      })
      return UsersRepo.of({
        insert: (user) => insert(user).pipe(Database.query("UsersRepo.insert")),
        findByEmail: (email) => findByEmail(email).pipe(Database.query("UsersRepo.findByEmail")),
        findById: (id) => findById(id).pipe(Database.query("UsersRepo.findById")),
      })
    }),
  )

  /** Users in memory, for domain tests (ids are random UUIDs, emails unique as the index makes them). */
  static readonly layerMemory = Layer.sync(UsersRepo, () => {
    const users: Array<UserRow> = []
    const byEmail = (email: string) => Option.fromUndefinedOr(users.find((user) => user.email.toLowerCase() === email))
    return UsersRepo.of({
      insert: (user) =>
        Effect.sync(() => {
          if (users.some((existing) => existing.email === user.email)) return Option.none()
          const row = { id: randomUUID(), email: user.email, password_hash: user.password_hash, role: "user" }
          users.push(row)
          return Option.some(row)
        }),
      findByEmail: (email) => Effect.sync(() => byEmail(email)),
      findById: (id) => Effect.sync(() => Option.fromUndefinedOr(users.find((user) => user.id === id))),
    })
  })
}
