import { readFileSync } from "node:fs"
import type * as Load from "./Load.ts"
import type { Server } from "./Servers.ts"

/**
 * The CPU time each process of a chain spent per request, read from `/proc` around the measured
 * part of a run: on a machine shared with other work, throughput moves with whatever else runs,
 * while the CPU a request costs each process moves much less. It is what the plain chain and ours
 * are compared by when the req/s of two runs disagree. PostgreSQL and the load generator are not
 * counted (both chains use them alike); a service run with `WORKERS` > 1 is not measured (its
 * workers are other processes).
 */

/** User plus system CPU time a process has used, in microseconds (Linux; clock ticks of 10 ms). */
const used = (pid: number): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")
    if (fields === undefined) return undefined
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return undefined
  }
}

export interface PerRequest {
  /** Microseconds of CPU per request, every process of the chain together. */
  readonly total: number
  readonly byProcess: ReadonlyArray<readonly [name: string, micros: number]>
}

/** Reads the processes' CPU around a run; `done` gets it per request, unless a process could not be read. */
export const meter = (processes: ReadonlyArray<Server>, done: (figures: PerRequest) => void): Load.Around => {
  let before: Array<number | undefined> = []
  return {
    before: () => {
      before = processes.map((server) =>
        server.running.child.pid === undefined ? undefined : used(server.running.child.pid),
      )
    },
    after: (requests) => {
      const byProcess: Array<readonly [string, number]> = []
      for (const [i, server] of processes.entries()) {
        const start = before[i]
        const end = server.running.child.pid === undefined ? undefined : used(server.running.child.pid)
        if (start === undefined || end === undefined || requests === 0) return
        byProcess.push([server.name, (end - start) / requests])
      }
      done({ total: byProcess.reduce((sum, [, micros]) => sum + micros, 0), byProcess })
    },
  }
}
