import cluster, { type Worker } from "node:cluster"
import * as fs from "node:fs"
import * as path from "node:path"
import { Deferred, Duration, Effect, Queue, Schema, type Scope } from "effect"
import * as PrometheusText from "./PrometheusText.ts"

/**
 * A service on every core (`WORKERS=auto`, or a number): Node's cluster, one primary process
 * that holds the listening socket and hands connections to its workers in turn, each worker the
 * whole service. Why the cluster rather than `SO_REUSEPORT`: Node 24 offers `reusePort` on Linux
 * only for its own listeners, and the primary is needed anyway, to drain every worker on SIGTERM,
 * to restart one that dies, and to answer `/metrics` for the service as a whole.
 *
 * - Start-up: worker 1 first (it migrates the database), the others once it listens.
 * - A worker that dies is started again (backoff, at most 5 a minute, then the service stops).
 * - SIGTERM or SIGINT: every worker drains as a single process would, then the primary exits.
 * - `/metrics` on any worker answers for all of them, each series labelled `worker`.
 * - Each worker spools to its own folder; worker 1 replays what workers no longer running left.
 *
 * State held in memory (a circuit breaker, a rate limit, the token cache) is per worker, as it
 * is per replica.
 */

/** This process's place among its service's workers. */
export interface Identity {
  readonly index: number
  readonly count: number
}

const INDEX = "PLATFORM_WORKER_INDEX"
const COUNT = "PLATFORM_WORKERS"

/** Set in a worker of a service started with more than one; undefined in a process of its own. */
export const identity: Identity | undefined = (() => {
  if (!cluster.isWorker) return undefined
  const index = Number(process.env[INDEX])
  const count = Number(process.env[COUNT])
  return Number.isInteger(index) && Number.isInteger(count) && index >= 1 && index <= count
    ? { index, count }
    : undefined
})()

export class WorkerFailed extends Schema.TaggedError<WorkerFailed>()("WorkerFailed", { message: Schema.String }) {}

// What the primary and its workers say to each other over the cluster's channel.
const Collect = Schema.TaggedStruct("platform/metrics.collect", { id: Schema.Number })
const Scrape = Schema.TaggedStruct("platform/metrics.scrape", { id: Schema.Number })
const Scraped = Schema.TaggedStruct("platform/metrics.scraped", {
  id: Schema.Number,
  worker: Schema.Number,
  text: Schema.String,
})
const Merged = Schema.TaggedStruct("platform/metrics.merged", { id: Schema.Number, text: Schema.String })
const isCollect = Schema.is(Collect)
const isScrape = Schema.is(Scrape)
const isScraped = Schema.is(Scraped)
const isMerged = Schema.is(Merged)

/** The label every worker's series carry in the service's `/metrics`. */
export const LABEL = "worker"

/** How long the primary waits for the workers' metrics before answering with those it has. */
const SCRAPE_WAIT = Duration.millis(1500)
const MAX_RESTARTS_PER_MINUTE = 5

/**
 * The primary: starts `count` workers and returns once all of them listen; for the scope's
 * lifetime, restarts a worker that dies and brokers `/metrics`; closing the scope drains them.
 * The returned effect fails when workers keep dying (the service is broken, not unlucky).
 */
export const primary = (options: { readonly count: number; readonly drainTimeout: Duration.Duration }) =>
  Effect.gen(function* () {
    const { count } = options
    const live = new Map<number, Worker>()
    let stopping = false
    const died = yield* Queue.unbounded<{ readonly index: number; readonly how: string }>()
    const broken = yield* Deferred.make<never, WorkerFailed>()

    let nextScrape = 0
    const scrapes = new Map<
      number,
      { readonly requester: Worker; readonly id: number; parts: Array<PrometheusText.Part>; waiting: Set<number> }
    >()
    const answer = (scrapeId: number) => {
      const scrape = scrapes.get(scrapeId)
      if (scrape === undefined) return
      scrapes.delete(scrapeId)
      const parts = [...scrape.parts].sort((a, b) => Number(a.source) - Number(b.source))
      if (scrape.requester.isConnected()) {
        scrape.requester.send(Merged.make({ id: scrape.id, text: PrometheusText.merge(parts, LABEL) }))
      }
    }
    const broker = (from: Worker, message: unknown) => {
      if (isCollect(message)) {
        const scrapeId = nextScrape++
        const waiting = new Set(live.keys())
        scrapes.set(scrapeId, { requester: from, id: message.id, parts: [], waiting })
        for (const worker of live.values()) if (worker.isConnected()) worker.send(Scrape.make({ id: scrapeId }))
        setTimeout(() => answer(scrapeId), Duration.toMillis(SCRAPE_WAIT)).unref()
      } else if (isScraped(message)) {
        const scrape = scrapes.get(message.id)
        if (scrape === undefined) return
        scrape.parts.push({ source: String(message.worker), text: message.text })
        scrape.waiting.delete(message.worker)
        if (scrape.waiting.size === 0) answer(message.id)
      }
    }

    /** Forks worker `index` and waits until it listens; fails if it exits first. */
    const start = (index: number) =>
      Effect.callback<void, WorkerFailed>((resume) => {
        const worker = cluster.fork({ [INDEX]: String(index), [COUNT]: String(count) })
        live.set(index, worker)
        let listening = false
        worker.on("message", (message: unknown) => broker(worker, message))
        worker.once("listening", () => {
          listening = true
          resume(Effect.void)
        })
        worker.once("exit", (code: number | null, signal: string | null) => {
          if (live.get(index) === worker) live.delete(index)
          const how = signal === null ? `exit code ${code}` : `signal ${signal}`
          if (!listening) {
            resume(Effect.fail(new WorkerFailed({ message: `worker ${index} stopped (${how}) before it listened` })))
          } else if (!stopping) {
            Queue.offerUnsafe(died, { index, how })
          }
        })
      })

    // Drains every worker when the scope closes: SIGTERM (each drains as one process would),
    // then, past the drain timeout and a margin, SIGKILL.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        stopping = true
        const workers = [...live.values()]
        if (workers.length === 0) return
        yield* Effect.logInfo(`draining ${workers.length} worker(s)`)
        const exited = Promise.all(
          workers.map((worker) =>
            worker.isDead() ? Promise.resolve() : new Promise<void>((done) => worker.once("exit", () => done())),
          ),
        )
        for (const worker of workers) if (!worker.isDead()) worker.process.kill("SIGTERM")
        const inTime = yield* Effect.promise(() => exited).pipe(
          Effect.timeout(Duration.sum(options.drainTimeout, Duration.seconds(5))),
          Effect.as(true),
          Effect.catch(() => Effect.succeed(false)),
        )
        if (!inTime) {
          yield* Effect.logError("workers still running past the drain timeout: killing them")
          for (const worker of workers) if (!worker.isDead()) worker.process.kill("SIGKILL")
        }
      }),
    )

    yield* start(1)
    yield* Effect.forEach(
      Array.from({ length: count - 1 }, (_, i) => i + 2),
      start,
      { concurrency: "unbounded", discard: true },
    )

    const restarts: Array<number> = []
    yield* Effect.gen(function* () {
      const { index, how } = yield* Queue.take(died)
      const now = Date.now()
      while (restarts.length > 0 && (restarts[0] ?? 0) < now - 60_000) restarts.shift()
      if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
        return yield* Deferred.fail(
          broken,
          new WorkerFailed({
            message: `worker ${index} stopped (${how}), the ${MAX_RESTARTS_PER_MINUTE + 1}th worker to stop within a minute: stopping the service`,
          }),
        )
      }
      restarts.push(now)
      yield* Effect.logError(`worker ${index} stopped (${how}); starting it again`)
      yield* Effect.sleep(Duration.millis(100 * 2 ** (restarts.length - 1)))
      yield* start(index).pipe(Effect.catch((error) => Queue.offer(died, { index, how: error.message })))
    }).pipe(Effect.forever, Effect.forkScoped)

    return Deferred.await(broken)
  })

const merged = new Map<number, (text: string) => void>()
let nextCollect = 0

/**
 * In a worker: answers the primary's scrapes with this worker's own metrics (`scrape`, run with
 * the service's context), and takes the merged answers to this worker's own requests.
 */
export const answerScrapes = (scrape: Effect.Effect<string>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const self = identity
    if (self === undefined) return
    const context = yield* Effect.context<never>()
    // The cluster's channel is a Node event: the edge where the scrape is run, with the service's context.
    const run = Effect.runForkWith(context)
    const onMessage = (message: unknown) => {
      if (isScrape(message)) {
        run(
          Effect.flatMap(scrape, (text) =>
            Effect.sync(() => process.send?.(Scraped.make({ id: message.id, worker: self.index, text }))),
          ),
        )
      } else if (isMerged(message)) {
        merged.get(message.id)?.(message.text)
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("message", onMessage)),
      () => Effect.sync(() => process.off("message", onMessage)),
    )
  })

/**
 * The service's metrics: this process's own when it runs alone; in a worker, every worker's,
 * through the primary (this worker's alone, labelled, if the primary does not answer in time).
 */
export const gather = (scrape: Effect.Effect<string>): Effect.Effect<string> => {
  const self = identity
  if (self === undefined || process.send === undefined) return scrape
  const alone = Effect.map(scrape, (text) => PrometheusText.merge([{ source: String(self.index), text }], LABEL))
  return Effect.callback<string>((resume) => {
    const id = nextCollect++
    merged.set(id, (text) => {
      merged.delete(id)
      resume(Effect.succeed(text))
    })
    process.send?.(Collect.make({ id }))
    return Effect.sync(() => merged.delete(id))
  }).pipe(
    Effect.timeout(Duration.sum(SCRAPE_WAIT, Duration.seconds(1))),
    Effect.catch(() => alone),
  )
}

/**
 * Where this process spools (`own`), and the folders it replays from without writing to them
 * (`adopted`): a worker spools in `<dir>/worker-<n>`, so that no two processes share a file;
 * worker 1, or a process of its own, replays what processes no longer running left behind
 * (another worker count's folders, or the top folder of a run without workers).
 */
export const spoolDirectories = (
  directory: string,
  self: Identity | undefined = identity,
): { readonly own: string; readonly adopted: ReadonlyArray<string> } => {
  const workerFolders = (() => {
    try {
      return fs
        .readdirSync(directory, { withFileTypes: true })
        .flatMap((entry) => {
          const match = entry.isDirectory() ? /^worker-(\d+)$/.exec(entry.name) : null
          return match === null ? [] : [{ index: Number(match[1]), folder: path.join(directory, entry.name) }]
        })
        .sort((a, b) => a.index - b.index)
    } catch {
      return []
    }
  })()
  if (self === undefined) return { own: directory, adopted: workerFolders.map((entry) => entry.folder) }
  const own = path.join(directory, `worker-${self.index}`)
  if (self.index !== 1) return { own, adopted: [] }
  return {
    own,
    adopted: [directory, ...workerFolders.filter((entry) => entry.index > self.count).map((entry) => entry.folder)],
  }
}
