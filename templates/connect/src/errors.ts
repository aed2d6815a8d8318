import { Schema } from "effect"

/** The text of an entry cannot be recorded; `problem` says why. The adapter answers `invalid_argument`. */
export class InvalidText extends Schema.TaggedError<InvalidText>()("InvalidText", {
  problem: Schema.String,
}) {
  override get message() {
    return `text: ${this.problem}`
  }
}
