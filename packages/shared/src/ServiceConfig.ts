import * as os from "node:os"
import { Config, ConfigProvider, Context, Duration, Effect, Layer, type LogLevel, Option, Redacted } from "effect"
import { isCidr } from "./ClientAddress.ts"

/**
 * The settings every service reads from its environment (the contract's common variables
 * plus the kernel's own knobs). Read once at start-up, so a bad value stops the service
 * before it binds a port.
 */
export interface Settings {
  /** `OTEL_SERVICE_NAME`, else the service's own name. Used in logs and traces. */
  readonly serviceName: string
  readonly port: number
  /** `HOST`: the address to listen on; every interface when unset. */
  readonly host: Option.Option<string>
  /** `None` when `DATABASE_URL` is unset or empty: persistence disabled. */
  readonly databaseUrl: Option.Option<Redacted.Redacted<URL>>
  readonly logLevel: LogLevel.LogLevel
  /** How long in-flight requests may run after SIGTERM before they are cut. */
  readonly shutdownTimeout: Duration.Duration
  /** Processes serving the port (`WORKERS`: a number, or `auto` for one per core); 1 by default. */
  readonly workers: number
  readonly databasePoolSize: number
  /** How long one connection to the database may take to open before it counts as unreachable. */
  readonly databaseConnectTimeout: Duration.Duration
  /**
   * How long a request waits for the row it writes before answering (greetings, invocations,
   * executions) while the database does not answer; then it answers, and the row is held and
   * written when the database is back.
   */
  readonly databaseWriteTimeout: Duration.Duration
  /** `DATABASE_STATEMENT_TIMEOUT_MS`: the server cancels a request's statement that runs longer. */
  readonly databaseStatementTimeout: Duration.Duration
  /** What the HTTP server tolerates from a client before it closes the connection. */
  readonly http: HttpLimits
  /**
   * `SPOOL_DIR`: where rows held through a database outage are kept on disk until written, so a
   * crash loses none (`Spool`); none: held in memory only.
   */
  readonly spoolDirectory: Option.Option<string>
  /** `SPOOL_MAX_BYTES`: the most a spool holds on disk (256 MiB). */
  readonly spoolMaxBytes: number
}

/** gRPC's own default for the largest message a server reads. */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024

/**
 * The HTTP server's limits: slow, idle or greedy clients are cut off instead of holding a
 * socket, memory or a stream for good. Each is an environment variable (milliseconds or counts).
 */
export interface HttpLimits {
  /** `HTTP_HEADERS_TIMEOUT_MS`: the request line and headers must arrive within it (408). */
  readonly headersTimeoutMs: number
  /** `HTTP_REQUEST_TIMEOUT_MS`: the whole request, body included, must arrive within it (408). */
  readonly requestTimeoutMs: number
  /** `HTTP_IDLE_TIMEOUT_MS`: an HTTP/1.1 connection with no traffic either way is closed. */
  readonly idleTimeoutMs: number
  /** `HTTP_KEEP_ALIVE_TIMEOUT_MS`: an idle keep-alive connection between requests is closed. */
  readonly keepAliveTimeoutMs: number
  /** `HTTP2_IDLE_TIMEOUT_MS`: an HTTP/2 session with no traffic gets a GOAWAY and is closed. */
  readonly http2IdleTimeoutMs: number
  /** `HTTP_MAX_CONNECTIONS`: connections beyond it are refused at once. */
  readonly maxConnections: number
  /** `HTTP2_MAX_CONCURRENT_STREAMS`: streams one HTTP/2 connection may have open. */
  readonly maxConcurrentStreams: number
  /** `MAX_REQUEST_BYTES`: the largest RPC message or request body read (as gRPC's default, 4 MiB). */
  readonly maxRequestBytes: number
}

/** What a service says about itself; everything else comes from the environment. */
export interface Defaults {
  readonly name: string
  readonly port: number
}

const logLevels: Record<string, LogLevel.LogLevel> = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None",
  silent: "None",
}

/** A variable that is unset or set to the empty string (Compose writes `VAR=`) counts as absent. */
export const optionalString = (name: string) =>
  Config.String(name).pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))

/** A configuration error naming the variable, for the one-line start-up failure. */
export const invalid = (name: string, message: string) =>
  Config.fail(new ConfigProvider.SourceError({ message: `${name}: ${message}` }))

const url = (name: string, protocols: ReadonlyArray<string>, shape: string) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed(Option.none<URL>()),
        onSome: (raw) => {
          const parsed = URL.parse(raw)
          return parsed !== null && protocols.includes(parsed.protocol)
            ? Config.succeed(Option.some(parsed))
            : invalid(name, `expected ${shape}`)
        },
      }),
    ),
  )

const databaseUrl = url("DATABASE_URL", ["postgres:", "postgresql:"], "postgresql://user:pass@host:port/dbname").pipe(
  Config.flatMap((parsed) =>
    Option.isSome(parsed) && parsed.value.pathname.length <= 1
      ? invalid("DATABASE_URL", "the URL names no database (postgresql://user:pass@host:port/dbname)")
      : Config.succeed(Option.map(parsed, Redacted.make)),
  ),
)

/** An http(s) base URL without its trailing slashes, `fallback` when unset: where another service is. */
export const httpUrl = (name: string, fallback: string) =>
  optionalString(name).pipe(
    Config.flatMap((raw) => {
      const value = Option.getOrElse(raw, () => fallback).replace(/\/+$/, "")
      const parsed = URL.parse(value)
      return parsed !== null && (parsed.protocol === "http:" || parsed.protocol === "https:")
        ? Config.succeed(value)
        : invalid(name, `expected an http(s) URL, got ${JSON.stringify(value)}`)
    }),
  )

const wholeNumber = (name: string, fallback: number, least: 0 | 1) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed(fallback),
        onSome: (raw) =>
          /^\d+$/.test(raw.trim()) && Number(raw) >= least
            ? Config.succeed(Number(raw))
            : invalid(
                name,
                `expected a ${least === 0 ? "whole number (0 or more)" : "positive whole number"}, got ${JSON.stringify(raw)}`,
              ),
      }),
    ),
  )

/** A whole number above zero, `fallback` when unset. */
export const positiveInt = (name: string, fallback: number) => wholeNumber(name, fallback, 1)

/** A whole number, 0 included (0 turns something off), `fallback` when unset. */
export const nonNegativeInt = (name: string, fallback: number) => wholeNumber(name, fallback, 0)

/** A comma-separated list, `fallback` when unset; blank entries are dropped. */
export const commaList = (name: string, fallback: ReadonlyArray<string>) =>
  optionalString(name).pipe(
    Config.map(
      Option.match({
        onNone: () => [...fallback],
        onSome: (raw) =>
          raw
            .split(",")
            .map((entry) => entry.trim())
            .filter((entry) => entry !== ""),
      }),
    ),
  )

/** A comma-separated list of addresses and CIDRs (`10.0.0.0/8,::1`); a malformed entry names the variable. */
export const cidrList = (name: string, fallback: ReadonlyArray<string>) =>
  commaList(name, fallback).pipe(
    Config.flatMap((entries) => {
      const wrong = entries.find((entry) => !isCidr(entry))
      return wrong === undefined
        ? Config.succeed(entries)
        : invalid(name, `expected addresses or CIDRs (10.0.0.0/8, ::1), got ${JSON.stringify(wrong)}`)
    }),
  )

/** One of `choices`, `fallback` when unset; anything else names the variable and the choices. */
export const oneOf = <const C extends string>(name: string, choices: ReadonlyArray<C>, fallback: C) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed<C>(fallback),
        onSome: (raw) => {
          const value = raw.trim().toLowerCase()
          const found = choices.find((choice) => choice === value)
          return found !== undefined
            ? Config.succeed<C>(found)
            : invalid(name, `expected one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`)
        },
      }),
    ),
  )

/** `true`/`false` (also `1`/`0`, `yes`/`no`), `fallback` when unset; anything else names the variable. */
export const flag = (name: string, fallback: boolean) =>
  optionalString(name).pipe(
    Config.flatMap(
      Option.match({
        onNone: () => Config.succeed(fallback),
        onSome: (raw) => {
          const value = raw.trim().toLowerCase()
          if (["true", "1", "yes"].includes(value)) return Config.succeed(true)
          if (["false", "0", "no"].includes(value)) return Config.succeed(false)
          return invalid(name, `expected true or false, got ${JSON.stringify(raw)}`)
        },
      }),
    ),
  )

const port = (fallback: number) =>
  positiveInt("PORT", fallback).pipe(
    Config.flatMap((value) =>
      value <= 65535 ? Config.succeed(value) : invalid("PORT", `expected a port between 1 and 65535, got ${value}`),
    ),
  )

const logLevel = optionalString("LOG_LEVEL").pipe(
  Config.flatMap(
    Option.match({
      onNone: () => Config.succeed<LogLevel.LogLevel>("Info"),
      onSome: (raw) => {
        const level = logLevels[raw.trim().toLowerCase()]
        return level !== undefined
          ? Config.succeed(level)
          : invalid(
              "LOG_LEVEL",
              `expected one of trace, debug, info, warn, error, fatal, none; got ${JSON.stringify(raw)}`,
            )
      },
    }),
  ),
)

/** `WORKERS`: `auto` is one per core Node may use (`os.availableParallelism()`). */
export const workers = optionalString("WORKERS").pipe(
  Config.flatMap(
    Option.match({
      onNone: () => Config.succeed(1),
      onSome: (raw) => {
        const value = raw.trim().toLowerCase()
        if (value === "auto") return Config.succeed(os.availableParallelism())
        const count = Number(value)
        return /^\d+$/.test(value) && count >= 1 && count <= 256
          ? Config.succeed(count)
          : invalid("WORKERS", `expected auto or a number of processes from 1 to 256, got ${JSON.stringify(raw)}`)
      },
    }),
  ),
)

export const settings = (defaults: Defaults): Config.Config<Settings> =>
  Config.all({
    serviceName: optionalString("OTEL_SERVICE_NAME").pipe(Config.map(Option.getOrElse(() => defaults.name))),
    port: port(defaults.port),
    host: optionalString("HOST"),
    databaseUrl,
    logLevel,
    shutdownTimeout: positiveInt("SHUTDOWN_TIMEOUT_MS", 10_000).pipe(Config.map(Duration.millis)),
    workers,
    databasePoolSize: positiveInt("DATABASE_POOL_SIZE", 10),
    databaseConnectTimeout: positiveInt("DATABASE_CONNECT_TIMEOUT_MS", 5_000).pipe(Config.map(Duration.millis)),
    databaseWriteTimeout: positiveInt("DATABASE_WRITE_TIMEOUT_MS", 1_000).pipe(Config.map(Duration.millis)),
    databaseStatementTimeout: positiveInt("DATABASE_STATEMENT_TIMEOUT_MS", 5_000).pipe(Config.map(Duration.millis)),
    http: Config.all({
      headersTimeoutMs: positiveInt("HTTP_HEADERS_TIMEOUT_MS", 10_000),
      requestTimeoutMs: positiveInt("HTTP_REQUEST_TIMEOUT_MS", 30_000),
      idleTimeoutMs: positiveInt("HTTP_IDLE_TIMEOUT_MS", 30_000),
      keepAliveTimeoutMs: positiveInt("HTTP_KEEP_ALIVE_TIMEOUT_MS", 5_000),
      http2IdleTimeoutMs: positiveInt("HTTP2_IDLE_TIMEOUT_MS", 60_000),
      maxConnections: positiveInt("HTTP_MAX_CONNECTIONS", 10_000),
      maxConcurrentStreams: positiveInt("HTTP2_MAX_CONCURRENT_STREAMS", 100),
      maxRequestBytes: positiveInt("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
    }),
    spoolDirectory: optionalString("SPOOL_DIR"),
    spoolMaxBytes: positiveInt("SPOOL_MAX_BYTES", 256 * 1024 * 1024),
  })

/** One line naming the variable and what is wrong with it, for the start-up failure. */
export const describeError = (error: Config.ConfigError): string => {
  const cause = error.cause
  if ("issue" in cause) {
    const path = findPath(cause.issue)
    const message = String(cause.message).split("\n")[0] ?? "invalid value"
    return path === undefined ? message : `${path}: ${message}`
  }
  return cause.message
}

const findPath = (issue: unknown): string | undefined => {
  if (typeof issue !== "object" || issue === null) return undefined
  if ("path" in issue && Array.isArray(issue.path) && issue.path.length > 0) return issue.path.join(".")
  if ("issue" in issue) return findPath(issue.issue)
  if ("issues" in issue && Array.isArray(issue.issues)) return findPath(issue.issues[0])
  return undefined
}

/** The database URL with its password hidden, safe for logs. */
export const redactUrl = (value: URL): string => {
  const copy = new URL(value.href)
  if (copy.password !== "") copy.password = "***"
  return copy.href
}

export class ServiceConfig extends Context.Service<ServiceConfig, Settings>()("platform/ServiceConfig") {
  static readonly layer = (defaults: Defaults) => Layer.effect(ServiceConfig, settings(defaults))
}

/** The largest request the service reads: `MAX_REQUEST_BYTES`, or the default without a configuration. */
export const maxRequestBytes = Effect.map(Effect.serviceOption(ServiceConfig), (config) =>
  Option.match(config, { onNone: () => DEFAULT_MAX_REQUEST_BYTES, onSome: (found) => found.http.maxRequestBytes }),
)
