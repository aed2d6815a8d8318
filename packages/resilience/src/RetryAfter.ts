import { Duration, Effect, Schedule } from "effect"

/**
 * A server's `Retry-After` (RFC 9110 §10.2.3) as the earliest time of the next retry: a retry
 * `Schedule` whose failure carries one waits at least that long, and gives up at once when the
 * server asks for longer than `maxMs` (a retry that late would outlive whoever waits for it).
 */

/** `Retry-After`'s value in milliseconds from `now`: delay-seconds or an HTTP-date; `undefined` if neither. */
export const parse = (value: string | null | undefined, now: number): number | undefined => {
  if (value === null || value === undefined) return undefined
  const raw = value.trim()
  if (/^\d+$/.test(raw)) return Number(raw) * 1000
  const date = Date.parse(raw)
  return Number.isNaN(date) || !/[a-z]/i.test(raw) ? undefined : Math.max(0, date - now)
}

/**
 * `schedule`, waiting at least `retryAfter(input)` milliseconds before each retry (the delay it
 * chose otherwise, if longer), and stopping when that is more than `maxMs`.
 */
export const honour =
  <Input>(retryAfter: (input: Input) => number | undefined, options: { readonly maxMs: number }) =>
  <Output, Error, Env>(
    schedule: Schedule.Schedule<Output, Input, Error, Env>,
  ): Schedule.Schedule<Output, Input, Error, Env> =>
    schedule.pipe(
      Schedule.while(({ input }) => (retryAfter(input) ?? 0) <= options.maxMs),
      Schedule.modifyDelay(({ input, duration }) =>
        Effect.succeed(Duration.max(Duration.fromInputUnsafe(duration), Duration.millis(retryAfter(input) ?? 0))),
      ),
    )
