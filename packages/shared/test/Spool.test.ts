import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import fc from "fast-check"
import * as Spool from "../src/Spool.ts"
import * as Workers from "../src/Workers.ts"

const Row = Schema.Struct({ id: Schema.String, n: Schema.Int })
type Row = typeof Row.Type

const folder = () => fs.mkdtempSync(path.join(os.tmpdir(), "spool-test-"))
const files = (directory: string) => fs.readdirSync(directory).filter((file) => file.endsWith(".jsonl"))

/** A spool in `directory` for the life of its own scope, as one process would hold it. */
const open = (directory: string, options: Partial<Spool.Options<typeof Row>> = {}) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const spool = yield* Spool.make({ directory, name: "rows", schema: Row, maxBytes: 1_000_000, ...options }).pipe(
      Scope.provide(scope),
    )
    return { spool, close: Scope.close(scope, Exit.void) }
  })

const row = (n: number): Row => ({ id: `id-${n}`, n })

describe("Spool", () => {
  it.effect("rows confirmed as written leave nothing behind", () =>
    Effect.gen(function* () {
      const directory = folder()
      const { spool, close } = yield* open(directory, { segmentBytes: 100 })
      const tickets = []
      for (let n = 0; n < 20; n++) tickets.push(yield* spool.append(row(n)))
      assert.isAbove(files(directory).length, 1, "sealed at 100 bytes: several segments")
      yield* spool.confirm(tickets.flatMap((ticket) => (ticket === undefined ? [] : [ticket])))
      yield* close
      assert.deepStrictEqual(files(directory), [])
    }),
  )

  it.effect("a process that stops (or dies) with rows unconfirmed: the next one replays every one of them", () =>
    Effect.gen(function* () {
      const directory = folder()
      const first = yield* open(directory, { segmentBytes: 200 })
      const tickets = []
      for (let n = 0; n < 30; n++) tickets.push(yield* first.spool.append(row(n)))
      // The first ten reached the database; the process stops without the rest.
      yield* first.spool.confirm(tickets.slice(0, 10).flatMap((ticket) => (ticket === undefined ? [] : [ticket])))
      yield* first.close
      const second = yield* open(directory)
      assert.isAbove(yield* second.spool.orphans, 0)
      const written: Array<Row> = []
      const count = yield* second.spool.replay((rows) => Effect.sync(() => void written.push(...rows)), 7)
      // Whole segments are replayed: a row written before may come again (its id makes it once).
      const ids = new Set(written.map((r) => r.id))
      for (let n = 10; n < 30; n++) assert.isTrue(ids.has(`id-${n}`), `row ${n} replayed`)
      assert.strictEqual(count, written.length)
      assert.strictEqual(yield* second.spool.orphans, 0)
      yield* second.close
      assert.deepStrictEqual(files(directory), [], "replayed segments are deleted")
    }),
  )

  it.effect("rows a worker left (WORKERS > 1 before) are replayed by a process of its own", () =>
    Effect.gen(function* () {
      const directory = folder()
      fs.mkdirSync(path.join(directory, "worker-2"))
      fs.writeFileSync(path.join(directory, "worker-2", "rows-1-1-0.jsonl"), `${JSON.stringify(row(7))}\n`)
      const { spool, close } = yield* open(directory)
      const written: Array<Row> = []
      yield* spool.replay((rows) => Effect.sync(() => void written.push(...rows)), 10)
      assert.deepStrictEqual(written, [row(7)])
      yield* close
      assert.deepStrictEqual(files(path.join(directory, "worker-2")), [])
    }),
  )

  it.effect("a line cut short by a crash is skipped; a failed replay keeps the segment for the next try", () =>
    Effect.gen(function* () {
      const directory = folder()
      fs.writeFileSync(path.join(directory, "rows-1-1-0.jsonl"), `${JSON.stringify(row(1))}\n{"id":"id-2","n`)
      const { spool, close } = yield* open(directory)
      const failed = yield* Effect.flip(spool.replay(() => Effect.fail("database down"), 10))
      assert.strictEqual(failed, "database down")
      assert.strictEqual(files(directory).length, 1)
      const written: Array<Row> = []
      yield* spool.replay((rows) => Effect.sync(() => void written.push(...rows)), 10)
      assert.deepStrictEqual(written, [row(1)])
      yield* close
      assert.deepStrictEqual(files(directory), [])
    }),
  )

  it.effect("an overflowed row is replayed in this process; a full spool refuses, and says so", () =>
    Effect.gen(function* () {
      const directory = folder()
      const { spool, close } = yield* open(directory, { maxBytes: 200 })
      const ticket = yield* spool.append(row(1))
      assert.isDefined(ticket)
      if (ticket !== undefined) yield* spool.overflowed(ticket)
      const written: Array<Row> = []
      yield* spool.replay((rows) => Effect.sync(() => void written.push(...rows)), 10)
      assert.deepStrictEqual(written, [row(1)])
      const taken = []
      for (let n = 0; n < 20; n++) taken.push(yield* spool.append(row(n)))
      assert.isTrue(taken.includes(undefined), "past 200 bytes, rows are refused")
      assert.isAtMost(yield* spool.bytes, 200)
      yield* close
    }),
  )

  it.effect("property: whatever is appended, confirmed and overflowed, a restart replays every unconfirmed row", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom("confirm", "overflow", "keep"), { maxLength: 60 }),
          fc.integer({ min: 40, max: 400 }),
          (fates, segmentBytes) =>
            Effect.runPromise(
              Effect.scoped(
                Effect.gen(function* () {
                  const directory = folder()
                  const first = yield* open(directory, { segmentBytes })
                  const unconfirmed = new Set<string>()
                  const replayedNow: Array<Row> = []
                  for (const [n, fate] of fates.entries()) {
                    const ticket = yield* first.spool.append(row(n))
                    if (ticket === undefined) return false
                    if (fate === "confirm") yield* first.spool.confirm([ticket])
                    else unconfirmed.add(`id-${n}`)
                    if (fate === "overflow") yield* first.spool.overflowed(ticket)
                  }
                  yield* first.spool.replay((rows) => Effect.sync(() => void replayedNow.push(...rows)), 5)
                  yield* first.close
                  const second = yield* open(directory)
                  const replayedLater: Array<Row> = []
                  yield* second.spool.replay((rows) => Effect.sync(() => void replayedLater.push(...rows)), 5)
                  yield* second.close
                  const seen = new Set([...replayedNow, ...replayedLater].map((r) => r.id))
                  return [...unconfirmed].every((id) => seen.has(id)) && files(directory).length === 0
                }),
              ),
            ),
        ),
        { numRuns: 100 },
      ),
    ),
  )
})

describe("Workers.spoolDirectories", () => {
  it("a worker spools in its own folder; worker 1 or a lone process replays what no running process writes", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "spool-dirs-"))
    for (const folder of ["worker-1", "worker-2", "worker-3", "not-a-worker"]) fs.mkdirSync(path.join(root, folder))
    const at = (name: string) => path.join(root, name)
    assert.deepStrictEqual(Workers.spoolDirectories(root, undefined), {
      own: root,
      adopted: [at("worker-1"), at("worker-2"), at("worker-3")],
    })
    assert.deepStrictEqual(Workers.spoolDirectories(root, { index: 1, count: 2 }), {
      own: at("worker-1"),
      adopted: [root, at("worker-3")],
    })
    assert.deepStrictEqual(Workers.spoolDirectories(root, { index: 2, count: 2 }), { own: at("worker-2"), adopted: [] })
    fs.rmSync(root, { recursive: true, force: true })
  })
})
