import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Metric, Schema, type Scope } from "effect"
import * as Workers from "./Workers.ts"

/**
 * A crash-safe local spool for rows on their way to the database: every row is appended to a
 * file before the request that made it is answered, so neither a database outage nor a `kill -9`
 * loses it; at the next start the files left behind are replayed into the database. Rows carry
 * their id from the start, so a row written twice (once from memory, once from a replay) is
 * stored once (`ON CONFLICT (id) DO NOTHING`).
 *
 * The files are segments of JSON lines (`<name>-<time>-<pid>-<n>.jsonl`). The current one takes
 * appends; it is sealed and a new one opened when it reaches `segmentBytes`, or as soon as a
 * row is only on disk (`overflowed`: the caller's in-memory queue was full). A sealed segment is
 * deleted when all its rows are confirmed written; one holding rows nobody has in memory
 * (overflowed, or left by an earlier process) is read back by `replay`.
 *
 * Each append is a `write(2)` of its line in the request's fiber: in the kernel's page cache once
 * it returns, which a killed process cannot lose. `fsync(2)` runs in groups, every `syncEvery`, off
 * the request path: a machine that loses power loses at most that much. Beyond `maxBytes` on disk,
 * rows are not spooled (`append` says so) and the caller falls back on its in-memory path.
 *
 * Why not `effect/persistence`'s PersistedQueue: its stores are memory, Redis and SQL, which are
 * what is unavailable when a spool is needed (the database is down, and Redis is one more server
 * to run); and `KeyValueStore.layerFileSystem` writes a file per key without fsync.
 */

export interface Options<S extends Schema.Codec<unknown, unknown>> {
  /** The folder of the spool files (created if missing). */
  readonly directory: string
  /** Names the files: one spool per kind of row. */
  readonly name: string
  /** A row as a JSON line. */
  readonly schema: S
  /** The most bytes the spool may hold on disk. */
  readonly maxBytes: number
  /** A segment is sealed at this size. */
  readonly segmentBytes?: number | undefined
  /** How often written lines are fsync'd, in milliseconds. */
  readonly syncEvery?: number | undefined
}

/** Where a row was spooled: confirm it when it is in the database. */
export interface Ticket {
  readonly segment: Segment
}

interface Segment {
  readonly file: string
  fd: number | undefined
  bytes: number
  /** Rows appended and not yet confirmed. */
  pending: number
  sealed: boolean
  /** Holds rows that only the file has: it must be replayed, not merely emptied. */
  orphaned: boolean
}

export interface Spool<A> {
  /** Appends `row`; `undefined` when the spool is full (or not writable). */
  readonly append: (row: A) => Effect.Effect<Ticket | undefined>
  /** The rows behind `tickets` are in the database. */
  readonly confirm: (tickets: ReadonlyArray<Ticket>) => Effect.Effect<void>
  /** The row behind `ticket` is only in the spool now: its segment will be replayed. */
  readonly overflowed: (ticket: Ticket) => Effect.Effect<void>
  /**
   * Reads back every segment whose rows are only on disk, hands them to `write` in batches of
   * `batchSize`, and deletes each segment once written. How many rows it replayed.
   */
  readonly replay: <E, R>(
    write: (rows: ReadonlyArray<A>) => Effect.Effect<void, E, R>,
    batchSize: number,
  ) => Effect.Effect<number, E, R>
  /** Bytes on disk now. */
  readonly bytes: Effect.Effect<number>
  /** Segments waiting for `replay`. */
  readonly orphans: Effect.Effect<number>
}

export const rowsSpooled = Metric.counter("spool_rows_total", {
  description: "Rows appended to a crash-safe spool, by spool",
  incremental: true,
})

export const rowsReplayed = Metric.counter("spool_rows_replayed_total", {
  description: "Rows read back from a spool into the database, by spool",
  incremental: true,
})

export const rowsRefused = Metric.counter("spool_rows_refused_total", {
  description: "Rows a full or unwritable spool could not take, by spool",
  incremental: true,
})

export const bytesOnDisk = Metric.gauge("spool_bytes", {
  description: "Bytes a spool holds on disk, by spool",
})

const newline = Buffer.from("\n")

export const make = <S extends Schema.Codec<unknown, unknown>>(
  options: Options<S>,
): Effect.Effect<Spool<S["Type"]>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024
    const syncEvery = options.syncEvery ?? 50
    const line = Schema.fromJsonString(options.schema as Schema.Codec<S["Type"], unknown>)
    const encode = Schema.encodeSync(line) as (row: S["Type"]) => string
    const decode = Schema.decodeUnknownSync(line) as (raw: unknown) => S["Type"]
    const label = { spool: options.name }
    const spooled = Metric.withAttributes(rowsSpooled, label)
    const replayed = Metric.withAttributes(rowsReplayed, label)
    const refused = Metric.withAttributes(rowsRefused, label)
    const gauge = Metric.withAttributes(bytesOnDisk, label)
    yield* Effect.forEach([spooled, replayed, refused], (counter) => Metric.update(counter, 0), { discard: true })

    // With WORKERS, each worker has a folder of its own (see `Workers.spoolDirectories`).
    const { own, adopted } = Workers.spoolDirectories(options.directory)
    fs.mkdirSync(own, { recursive: true })
    const mine = (file: string) => file.startsWith(`${options.name}-`) && file.endsWith(".jsonl")
    // Whatever is here was left by an earlier process: all of it is to be replayed.
    const segments: Array<Segment> = [own, ...adopted].flatMap((directory) =>
      (fs.existsSync(directory) ? fs.readdirSync(directory) : [])
        .filter(mine)
        .sort()
        .flatMap((file) => {
          const full = path.join(directory, file)
          const stat = fs.statSync(full)
          return stat.isFile()
            ? [{ file: full, fd: undefined, bytes: stat.size, pending: 0, sealed: true, orphaned: true }]
            : []
        }),
    )
    const left = segments.reduce((sum, segment) => sum + segment.bytes, 0)
    if (segments.length > 0) {
      yield* Effect.logInfo(`${options.name} spool: ${segments.length} file(s) (${left} bytes) from before, to replay`)
    }

    let total = left
    let sequence = 0
    let dirty = new Set<number>()
    let current: Segment | undefined
    let warnedFull = false

    const remove = (segment: Segment) => {
      if (segment.fd !== undefined) fs.closeSync(segment.fd)
      segment.fd = undefined
      fs.rmSync(segment.file, { force: true })
      total -= segment.bytes
      const at = segments.indexOf(segment)
      if (at >= 0) segments.splice(at, 1)
    }
    const seal = (segment: Segment) => {
      segment.sealed = true
      if (segment === current) current = undefined
      if (segment.pending === 0 && !segment.orphaned) remove(segment)
    }
    const open = (): Segment => {
      const file = path.join(own, `${options.name}-${Date.now()}-${process.pid}-${sequence++}.jsonl`)
      const segment: Segment = {
        file,
        fd: fs.openSync(file, "a"),
        bytes: 0,
        pending: 0,
        sealed: false,
        orphaned: false,
      }
      segments.push(segment)
      return segment
    }

    const append = (row: S["Type"]) =>
      Effect.suspend(() => {
        const bytes = Buffer.concat([Buffer.from(encode(row)), newline])
        if (total + bytes.length > options.maxBytes) {
          const warn = warnedFull
            ? Effect.void
            : Effect.logWarning(`${options.name} spool is full (${options.maxBytes} bytes): rows are not spooled`)
          warnedFull = true
          return Effect.as(Effect.andThen(warn, Metric.update(refused, 1)), undefined)
        }
        warnedFull = false
        try {
          if (current === undefined || current.bytes >= segmentBytes) {
            if (current !== undefined) seal(current)
            current = open()
          }
          const segment = current
          fs.writeSync(segment.fd as number, bytes)
          segment.bytes += bytes.length
          segment.pending++
          total += bytes.length
          dirty.add(segment.fd as number)
          return Effect.as(Metric.update(spooled, 1), { segment } satisfies Ticket)
        } catch (error) {
          return Effect.as(
            Effect.andThen(
              Effect.logWarning(`${options.name} spool could not be written: ${String(error)}`),
              Metric.update(refused, 1),
            ),
            undefined,
          )
        }
      })

    const confirm = (tickets: ReadonlyArray<Ticket>) =>
      Effect.sync(() => {
        for (const { segment } of tickets) {
          segment.pending--
          if (segment.sealed && segment.pending <= 0 && !segment.orphaned && segments.includes(segment)) remove(segment)
        }
      })

    const overflowed = (ticket: Ticket) =>
      Effect.sync(() => {
        ticket.segment.orphaned = true
        // Sealed at once: replay reads whole segments, and this one must take no more rows.
        if (!ticket.segment.sealed) seal(ticket.segment)
      })

    const readRows = (file: string): Array<S["Type"]> => {
      const rows: Array<S["Type"]> = []
      for (const raw of fs.readFileSync(file, "utf8").split("\n")) {
        if (raw === "") continue
        try {
          rows.push(decode(raw))
        } catch {
          // A line cut short by a crash mid-write: its request was never answered.
        }
      }
      return rows
    }

    const replay = <E, R>(write: (rows: ReadonlyArray<S["Type"]>) => Effect.Effect<void, E, R>, batchSize: number) =>
      Effect.gen(function* () {
        let count = 0
        for (const segment of segments.filter((candidate) => candidate.sealed && candidate.orphaned)) {
          if (segment.fd !== undefined) {
            fs.closeSync(segment.fd)
            segment.fd = undefined
          }
          const rows = readRows(segment.file)
          for (let start = 0; start < rows.length; start += batchSize) {
            const batch = rows.slice(start, start + batchSize)
            yield* write(batch)
            yield* Metric.update(replayed, batch.length)
          }
          count += rows.length
          remove(segment)
        }
        return count
      })

    // Group fsync, off the request path (and off the event loop: libuv's thread pool).
    const fsync = (fd: number) =>
      Effect.callback<void>((resume) => {
        // An error means the file was closed since (sealed and emptied): nothing left to sync.
        fs.fsync(fd, () => resume(Effect.void))
      })
    const syncNow = Effect.suspend(() => {
      const fds = [...dirty]
      dirty = new Set()
      return Effect.forEach(fds, fsync, { discard: true })
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(syncEvery), syncNow)))
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* syncNow
        for (const segment of [...segments]) {
          if (segment.pending <= 0 && !segment.orphaned) remove(segment)
          else if (segment.fd !== undefined) {
            fs.closeSync(segment.fd)
            segment.fd = undefined
          }
        }
        if (segments.length > 0) {
          yield* Effect.logWarning(
            `${options.name} spool: ${segments.length} file(s) (${total} bytes) kept for the next start`,
          )
        }
      }),
    )

    return {
      append,
      confirm,
      overflowed,
      replay,
      bytes: Effect.tap(
        Effect.sync(() => total),
        (bytes) => Metric.update(gauge, bytes),
      ),
      orphans: Effect.sync(() => segments.filter((segment) => segment.orphaned).length),
    } satisfies Spool<S["Type"]>
  })
