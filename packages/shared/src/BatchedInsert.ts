import { randomUUID } from "node:crypto"
import { Array as Arr, Cause, Context, Duration, Effect, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import * as Database from "./Database.ts"
import { describe } from "./ErrorMessage.ts"
import * as GroupCommit from "./GroupCommit.ts"
import { ServiceConfig } from "./ServiceConfig.ts"
import * as Spool from "./Spool.ts"

/**
 * The writer of a table a service adds one row to per request, before it answers (greetings,
 * invocations, executions): each `insert(row)` shares one multi-row INSERT with whatever else
 * is waiting (`GroupCommit`), is a span and a duration of its own (`Database.query(name)`), and
 * succeeds once its row is committed.
 *
 * While the database does not answer, `insert` waits `DATABASE_WRITE_TIMEOUT_MS` (1 s) at most,
 * then succeeds with the row held: it is written when the database is back, and the log says
 * so with the row (held; written, counted, once caught up; or lost, if the service stops first).
 * A row the database refuses fails its own `insert`. The table's primary key is `id uuid`: each
 * row gets its id when it is handed over, so a statement retried after a lost acknowledgement
 * writes no row twice.
 *
 * With `SPOOL_DIR`, a held row is also appended to a crash-safe spool (`Spool`) before the
 * request answers without it: if the service dies (or stops) before the database is back, the row
 * is replayed at the next start, once.
 */
export type Insert<Row> = (
  row: Row,
) => Effect.Effect<void, SqlError.SqlError | Schema.SchemaError | GroupCommit.Backlogged>

export const make = <Row, Encoded extends Record<string, unknown>>(options: {
  readonly table: string
  readonly row: Schema.Codec<Row, Encoded>
  /** The operation's name in spans and metrics (`"GreetingsRepo.insert"`). */
  readonly name: string
}): Effect.Effect<Insert<Row>, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const config = yield* Effect.serviceOption(ServiceConfig)
    const health = yield* Effect.serviceOption(Database.DatabaseHealth)
    const waitAtMost = Option.match(config, {
      onNone: () => Duration.seconds(1),
      onSome: (c) => c.databaseWriteTimeout,
    })
    const encode = Schema.encodeSync(options.row)
    const encodeBatch = Schema.encodeEffect(Schema.NonEmptyArray(options.row))
    // A statement whose commit the connection lost before it said so is retried: the id each
    // row got when it was handed over makes the retry a no-op for what is already in.
    const insertAll = (batch: Arr.NonEmptyReadonlyArray<Keyed<Row>>) =>
      Effect.flatMap(
        encodeBatch(Arr.map(batch, (keyed) => keyed.row)),
        (encoded) =>
          sql`INSERT INTO ${sql(options.table)} ${sql.insert(
            encoded.map((row, i) => ({ id: batch[i]?.id, ...row })) as never,
          )} ON CONFLICT (id) DO NOTHING`,
      )
    const isTransient = (error: SqlError.SqlError | Schema.SchemaError) =>
      SqlError.isSqlError(error) && Database.isTransient(error)
    const ready = Option.match(health, { onNone: () => undefined, onSome: (h) => h.ready })

    const directory = Option.flatMap(config, (c) => c.spoolDirectory)
    const spool = Option.isSome(directory)
      ? yield* Spool.make({
          directory: directory.value,
          name: options.table,
          schema: Schema.Struct({ id: Schema.String, row: options.row }),
          maxBytes: Option.match(config, { onNone: () => 256 * 1024 * 1024, onSome: (c) => c.spoolMaxBytes }),
        })
      : undefined
    /** Where the spool holds each held row, until it is written. */
    const tickets = new Map<string, Spool.Ticket>()
    /** This outage's spooled rows were announced (until every held row is written). */
    let outageAnnounced = false
    if (spool !== undefined) {
      // Rows held by an earlier process that died (or stopped) before the database came back.
      const replay = spool
        .replay((batch) => (Arr.isReadonlyArrayNonEmpty(batch) ? insertAll(batch) : Effect.void), 100)
        .pipe(
          Effect.retry({
            while: isTransient,
            schedule: Schedule.min([Schedule.exponential("100 millis"), Schedule.spaced("5 seconds")]),
          }),
          Effect.flatMap((count) =>
            count === 0 ? Effect.void : Effect.logInfo(`wrote ${count} ${options.table} row(s) kept in the spool`),
          ),
          Effect.catch((error) =>
            Effect.logError(`${options.table} rows in the spool could not be written: ${describe(error)}`),
          ),
        )
      yield* Effect.forkScoped(ready === undefined ? replay : Effect.andThen(ready, replay))
    }

    const rows = yield* GroupCommit.make<Keyed<Row>, SqlError.SqlError | Schema.SchemaError, never>({
      name: `${options.name} batch`,
      write: insertAll,
      isTransient,
      waitAtMost,
      ready,
      onHeldWritten: (keyed) =>
        Effect.suspend(() => {
          const ticket = tickets.get(keyed.id)
          tickets.delete(keyed.id)
          return ticket === undefined || spool === undefined ? Effect.void : spool.confirm([ticket])
        }),
      onLost: (keyed, cause) =>
        tickets.has(keyed.id)
          ? Effect.logWarning(
              `a ${options.table} row held for the database is kept in the spool for the next start`,
            ).pipe(Effect.annotateLogs({ row: { id: keyed.id, ...encode(keyed.row) } }))
          : Effect.logError(`lost a ${options.table} row held for the database: ${describe(Cause.squash(cause))}`).pipe(
              Effect.annotateLogs({ row: { id: keyed.id, ...encode(keyed.row) } }),
            ),
      onCaughtUp: (written) =>
        Effect.suspend(() => {
          outageAnnounced = false
          return Effect.logInfo(`wrote ${written} held ${options.table} rows now that the database answers`)
        }),
    })
    return (row: Row) => {
      const keyed = { id: randomUUID(), row }
      return rows.write(keyed).pipe(
        // Held: on disk before the request answers without it, so a crash now loses nothing.
        Effect.tap((outcome) =>
          outcome === "held" && spool !== undefined
            ? Effect.flatMap(spool.append(keyed), (ticket) =>
                Effect.sync(() => {
                  if (ticket !== undefined) tickets.set(keyed.id, ticket)
                }),
              )
            : Effect.void,
        ),
        Effect.tap((outcome) => {
          if (outcome !== "held") return Effect.void
          const late = `the database did not take the ${options.table} row within ${Duration.format(waitAtMost)} (or the request's deadline): answering without it`
          // On disk, a row needs no line of its own: one per outage says what is going on (a
          // frozen database at 100 requests a second would otherwise write 100 lines a second).
          if (tickets.has(keyed.id)) {
            if (outageAnnounced) return Effect.void
            outageAnnounced = true
            return Effect.logWarning(
              `${late}; this row and the next are kept in the spool and written when the database answers (one line per outage)`,
            )
          }
          return Effect.logWarning(`${late}; the row is held and written when the database answers`).pipe(
            Effect.annotateLogs({ row: { id: keyed.id, ...encode(row) } }),
          )
        }),
        Effect.asVoid,
        Database.query(options.name),
      )
    }
  })

/** A row and the primary key it is written with, fixed when it is handed over. */
interface Keyed<Row> {
  readonly id: string
  readonly row: Row
}

/** A repository whose one operation is `insert`, as a service's table of this kind has. */
export interface Repo<Row> {
  readonly insert: Insert<Row>
}

/**
 * The service class of such a table's repository, with its three layers:
 *
 * `class GreetingsRepo extends BatchedInsert.Repository<GreetingsRepo, Greeting>()("greeter/GreetingsRepo", { table: "greetings", row: Greeting }) {}`
 *
 * `layer` writes to PostgreSQL (one statement for every row that arrived while the previous one
 * was on the wire), `layerMemory(rows)` appends to an array a test reads back, `disabled` stores
 * nothing (a service without a database, as the contract allows).
 */
export interface RepositoryClass<Self, Id extends string, Row> extends Context.ServiceClass<Self, Id, Repo<Row>> {
  readonly layer: Layer.Layer<Self, never, SqlClient.SqlClient>
  readonly layerMemory: (rows?: Array<Row>) => Layer.Layer<Self>
  readonly disabled: Layer.Layer<Self>
}

export const Repository =
  <Self, Row>() =>
  <const Id extends string, Encoded extends Record<string, unknown>>(
    id: Id,
    options: { readonly table: string; readonly row: Schema.Codec<Row, Encoded> },
  ): RepositoryClass<Self, Id, Row> => {
    const name = `${id.slice(id.lastIndexOf("/") + 1)}.insert`
    return class RepositoryService extends Context.Service<Self, Repo<Row>>()(id) {
      static readonly layer: Layer.Layer<Self, never, SqlClient.SqlClient> = Layer.effect(
        this,
        Effect.map(make({ ...options, name }), (insert) => ({ insert })),
      )
      static readonly layerMemory = (rows: Array<Row> = []): Layer.Layer<Self> =>
        Layer.succeed(this, { insert: (row: Row) => Effect.sync(() => void rows.push(row)) })
      static readonly disabled: Layer.Layer<Self> = Layer.succeed(this, { insert: () => Effect.void })
    }
  }
