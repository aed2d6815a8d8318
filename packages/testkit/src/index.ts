/**
 * What tests and benchmarks of services built on `@platform/shared` share. Each module is also
 * an entry point of its own (`@platform/testkit/TestServer`).
 */
export * as Generated from "./Generated.ts"
export * as OtlpReceiver from "./OtlpReceiver.ts"
export * as Processes from "./Processes.ts"
export * as PrometheusText from "./PrometheusText.ts"
export * as Readme from "./Readme.ts"
export * as SpanRecorder from "./SpanRecorder.ts"
export * as TcpProxy from "./TcpProxy.ts"
export * as TestDatabase from "./TestDatabase.ts"
export * as TestServer from "./TestServer.ts"
