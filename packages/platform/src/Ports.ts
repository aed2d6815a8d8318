import { Effect, Schema } from "effect"
import { services } from "./Services.ts"

/**
 * Ports browsers refuse to open (the fetch standard's "bad ports", Chromium's and Firefox's
 * lists). The services never need a browser to reach them (the runner and the services use
 * `node:http` and undici's dispatcher, which have no such list), but the edge serves the console,
 * so it must not land on one.
 */
export const BROWSER_BLOCKED = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
])

export class UnusablePort extends Schema.TaggedError<UnusablePort>()("UnusablePort", { message: Schema.String }) {}

/**
 * The offset `PLATFORM_PORT_OFFSET` asks for, checked against every port it moves: each must be
 * a TCP port (1 to 65535), and the edge's one a browser will open. One sentence when it is not.
 */
export const offsetFrom = (
  raw: string | undefined,
  extra: ReadonlyArray<readonly [string, number]>,
): Effect.Effect<number, UnusablePort> => {
  const text = raw?.trim() ?? ""
  if (text === "") return Effect.succeed(0)
  if (!/^\d+$/.test(text)) {
    return Effect.fail(
      new UnusablePort({ message: `PLATFORM_PORT_OFFSET must be a whole number, not ${JSON.stringify(raw)}` }),
    )
  }
  const offset = Number(text)
  for (const [name, base] of [...services.map((spec) => [spec.name, spec.port] as const), ...extra]) {
    const port = base + offset
    if (port > 65535) {
      return Effect.fail(
        new UnusablePort({
          message: `PLATFORM_PORT_OFFSET=${offset} puts ${name} on port ${port}, beyond 65535; choose an offset below ${65535 - base + 1}`,
        }),
      )
    }
    if (name === "edge" && BROWSER_BLOCKED.has(port)) {
      return Effect.fail(
        new UnusablePort({
          message: `PLATFORM_PORT_OFFSET=${offset} puts the edge on port ${port}, which browsers refuse to open; choose another offset`,
        }),
      )
    }
  }
  return Effect.succeed(offset)
}
