import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import { describeError, httpUrl, redactUrl, settings } from "../src/ServiceConfig.ts"

const defaults = { name: "demo", port: 4000 }

const read = (env: Record<string, string>) =>
  settings(defaults).parse(ConfigProvider.fromEnv({ env })).pipe(Effect.flip, Effect.map(describeError))

const readOk = (env: Record<string, string>) => settings(defaults).parse(ConfigProvider.fromEnv({ env }))

describe("ServiceConfig", () => {
  it.effect("an empty environment gives the service's defaults and no database", () =>
    Effect.gen(function* () {
      const config = yield* readOk({})
      assert.strictEqual(config.serviceName, "demo")
      assert.strictEqual(config.port, 4000)
      assert.isTrue(Option.isNone(config.databaseUrl))
      assert.strictEqual(config.logLevel, "Info")
      assert.strictEqual(Duration.toMillis(config.shutdownTimeout), 10_000)
    }),
  )

  it.effect("reads the contract's variables", () =>
    Effect.gen(function* () {
      const config = yield* readOk({
        PORT: "8081",
        DATABASE_URL: "postgresql://svc:s3cret@db:5432/caller_db",
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_SERVICE_NAME: "caller-a",
        LOG_LEVEL: "DEBUG",
        SHUTDOWN_TIMEOUT_MS: "2500",
      })
      assert.strictEqual(config.port, 8081)
      assert.strictEqual(config.serviceName, "caller-a")
      assert.strictEqual(config.logLevel, "Debug")
      assert.strictEqual(Duration.toMillis(config.shutdownTimeout), 2500)
      const url = Option.getOrThrow(config.databaseUrl)
      assert.strictEqual(Redacted.value(url).pathname, "/caller_db")
      // The password never shows when the setting is printed or logged.
      assert.notInclude(String(url), "s3cret")
      assert.notInclude(JSON.stringify(config), "s3cret")
      assert.strictEqual(redactUrl(Redacted.value(url)), "postgresql://svc:***@db:5432/caller_db")
    }),
  )

  it.effect("an empty DATABASE_URL (as Compose writes `VAR=`) disables persistence", () =>
    Effect.gen(function* () {
      const config = yield* readOk({ DATABASE_URL: "" })
      assert.isTrue(Option.isNone(config.databaseUrl))
    }),
  )

  const bad = [
    { env: { PORT: "abc" }, expected: 'PORT: expected a positive whole number, got "abc"' },
    { env: { PORT: "99999" }, expected: "PORT: expected a port between 1 and 65535, got 99999" },
    { env: { PORT: "-1" }, expected: 'PORT: expected a positive whole number, got "-1"' },
    { env: { LOG_LEVEL: "loud" }, expected: "LOG_LEVEL: expected one of" },
    { env: { DATABASE_URL: "mysql://x@y/z" }, expected: "DATABASE_URL: expected postgresql://" },
    { env: { DATABASE_URL: "postgresql://x@y:5432" }, expected: "DATABASE_URL: the URL names no database" },
    { env: { DATABASE_URL: "not a url" }, expected: "DATABASE_URL: expected postgresql://" },
    { env: { SHUTDOWN_TIMEOUT_MS: "soon" }, expected: "SHUTDOWN_TIMEOUT_MS: expected a positive whole number" },
  ]
  it.effect.each(bad)("a bad value is one line naming the variable: $env", ({ env, expected }) =>
    Effect.gen(function* () {
      const message = yield* read(env)
      assert.include(message, expected)
      assert.notInclude(message, "\n")
    }),
  )

  it.effect("a password in a bad DATABASE_URL is not echoed", () =>
    Effect.gen(function* () {
      const message = yield* read({ DATABASE_URL: "mysql://user:hunter2@db/x" })
      assert.notInclude(message, "hunter2")
    }),
  )

  it("describes schema-level config errors with their path", () => {
    const error = Effect.runSync(Effect.flip(Config.Port("X").parse(ConfigProvider.fromEnv({ env: { X: "no" } }))))
    assert.match(describeError(error), /^X: /)
  })

  it.effect("httpUrl: the fallback when unset or empty, trailing slashes cut, anything else names the variable", () =>
    Effect.gen(function* () {
      const read = (env: Record<string, string>) =>
        httpUrl("UPSTREAM_URL", "http://localhost:8080").parse(ConfigProvider.fromEnv({ env }))
      assert.strictEqual(yield* read({}), "http://localhost:8080")
      assert.strictEqual(yield* read({ UPSTREAM_URL: "" }), "http://localhost:8080")
      assert.strictEqual(yield* read({ UPSTREAM_URL: "https://lang.internal:3000//" }), "https://lang.internal:3000")
      for (const bad of ["lang:3000", "ftp://lang", "not a url"]) {
        const message = describeError(yield* Effect.flip(read({ UPSTREAM_URL: bad })))
        assert.strictEqual(message, `UPSTREAM_URL: expected an http(s) URL, got ${JSON.stringify(bad)}`)
      }
    }),
  )
})
