import { Effect, Schema } from "effect"
import { services } from "./Services.ts"

export class UnusablePort extends Schema.TaggedError<UnusablePort>()("UnusablePort", { message: Schema.String }) {}

/**
 * The offset `PLATFORM_PORT_OFFSET` asks for, checked against every port it moves: each must be
 * a TCP port (at most 65535). One sentence when it is not. Ports `fetch` and browsers refuse (6000,
 * 10080...) are fine for the services: the runner, the smoke check and the services reach each
 * other through `node:http` and undici's dispatcher, which have no such list; the edge, which a
 * browser opens, starts at 30081, above every port on it.
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
  }
  return Effect.succeed(offset)
}
