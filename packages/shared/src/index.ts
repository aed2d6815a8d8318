/**
 * The kernel of an Effect service on this platform: configuration, PostgreSQL with migrations,
 * one port for HTTP/1.1 and h2c with graceful shutdown, health, JSON logs, traces and metrics,
 * Connect and REST adapters, and the write helpers services share. Each module is also an entry
 * point of its own (`@platform/shared/Database`).
 */
export * as BatchedInsert from "./BatchedInsert.ts"
export * as BestEffort from "./BestEffort.ts"
export * as ClientAddress from "./ClientAddress.ts"
export * as Connect from "./Connect.ts"
export * as Database from "./Database.ts"
export * as Deadline from "./Deadline.ts"
export * as ErrorMessage from "./ErrorMessage.ts"
export * as GroupCommit from "./GroupCommit.ts"
export * as GrpcHealth from "./GrpcHealth.ts"
export * as GrpcReflection from "./GrpcReflection.ts"
export * as Health from "./Health.ts"
export * as HttpTelemetry from "./HttpTelemetry.ts"
export * as Logging from "./Logging.ts"
export * as Main from "./Main.ts"
export * as Metrics from "./Metrics.ts"
export * as PrometheusText from "./PrometheusText.ts"
export * as RestApi from "./RestApi.ts"
export * as RpcMetrics from "./RpcMetrics.ts"
export * as Server from "./Server.ts"
export * as ServiceConfig from "./ServiceConfig.ts"
export * as Spool from "./Spool.ts"
export * as Telemetry from "./Telemetry.ts"
export * as Workers from "./Workers.ts"
