import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as ReadmeExamples from "../scripts/ReadmeExamples.ts"

const markdown = `Some text <!-- smoke --> in prose is not a marker.

<!-- smoke -->
\`\`\`sh
echo one
# one
printf 'a\\nb'
# a
# …
echo \\
  continued
echo quiet
\`\`\`

\`\`\`sh
echo not marked
\`\`\`
`

describe("README examples", () => {
  it("a marked block is its commands, each with the lines it prints", () => {
    assert.deepStrictEqual(ReadmeExamples.parse(markdown), [
      {
        line: 4,
        steps: [
          { command: "echo one", expected: ["one"] },
          { command: "printf 'a\\nb'", expected: ["a", "…"] },
          { command: "echo \\\n  continued", expected: [] },
          { command: "echo quiet", expected: [] },
        ],
      },
    ])
  })

  it("runs as written; a command printing something else is named, with both texts", () => {
    const [example] = ReadmeExamples.parse(markdown)
    const root = fileURLToPath(new URL(".", import.meta.url))
    assert.isUndefined(ReadmeExamples.run(example as ReadmeExamples.Example, root))
    const wrong = { line: 1, steps: [{ command: "echo two", expected: ["one"] }] }
    assert.strictEqual(ReadmeExamples.run(wrong, root), '`echo two` printed "two", the README says "one"')
    assert.isTrue(ReadmeExamples.matches(['{"id":"…","role":"user"}'], '{"id":"4f2c","role":"user"}\n'))
    assert.isFalse(ReadmeExamples.matches(["ok"], "ok\nmore"))
  })

  it("the README has examples for the smoke check to run", () => {
    const readme = fileURLToPath(new URL("../../../README.md", import.meta.url))
    assert.isAtLeast(ReadmeExamples.fromFile(readme).length, 4)
  })
})
