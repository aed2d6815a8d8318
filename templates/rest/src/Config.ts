import { positiveInt } from "@platform/shared/ServiceConfig"
import { Config, Context, Layer } from "effect"

/** specimen's own settings; the kernel's (PORT, DATABASE_URL, OTEL_*...) are read by the kernel. */
export interface Settings {
  /** Longest entry accepted, at most the contract's limit (`SPECIMEN_MAX_TEXT_LENGTH`). */
  readonly maxTextLength: number
}

export class SpecimenConfig extends Context.Service<SpecimenConfig, Settings>()("specimen/SpecimenConfig") {
  static readonly layer = Layer.effect(
    SpecimenConfig,
    Config.all({ maxTextLength: positiveInt("SPECIMEN_MAX_TEXT_LENGTH", 1000) }),
  )
}
