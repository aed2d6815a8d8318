import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Queue } from "effect"
import * as Watcher from "../src/Watcher.ts"

/** A folder with a source file in a git repository of its own, watched for the test's scope. */
const watched = Effect.gen(function* () {
  const root = fs.mkdtempSync(path.join(tmpdir(), "watch-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true })))
  const src = path.join(root, "src")
  fs.mkdirSync(src)
  const file = path.join(src, "Lang.ts")
  fs.writeFileSync(file, "export const version = 0\n")
  const git = (...args: Array<string>) => execFileSync("git", args, { cwd: root, stdio: "ignore" })
  git("init", "-q")
  git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "empty")
  const changes = yield* Queue.unbounded<ReadonlyArray<string>>()
  yield* Watcher.watch(root, [src], (files) => Queue.offerUnsafe(changes, files))
  // A change, then the files the watcher reports within `within` (2 s: what `./platform dev` promises).
  const seen = (change: () => void, within: Duration.Input = "2 seconds") =>
    Effect.gen(function* () {
      yield* Effect.sleep("50 millis")
      change()
      return yield* Queue.take(changes).pipe(
        Effect.timeoutOrElse({ duration: within, orElse: () => Effect.succeed<ReadonlyArray<string>>([]) }),
      )
    })
  return { root, file, git, seen }
})

describe("Watcher", () => {
  it.live(
    "sees a file edited in place, replaced by rename, deleted and re-created, switched by git checkout: each twice",
    () =>
      Effect.gen(function* () {
        const { file, git, seen } = yield* watched
        const expected = [path.join("src", "Lang.ts")]
        for (let round = 1; round <= 2; round++) {
          assert.deepStrictEqual(yield* seen(() => fs.appendFileSync(file, `// edit ${round}\n`)), expected, "in place")
          const saved = yield* seen(() => {
            // vim and JetBrains: write a temporary file, then rename it over the original.
            const temporary = `${file}___jb_tmp___`
            fs.writeFileSync(temporary, `export const version = ${round}\n`)
            fs.renameSync(temporary, file)
          })
          assert.deepStrictEqual(saved, expected, "atomic save")
          assert.deepStrictEqual(
            yield* seen(() => {
              fs.rmSync(file)
              fs.writeFileSync(file, `export const version = ${round + 10}\n`)
            }),
            expected,
            "deleted and re-created",
          )
          git("add", "-A")
          git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", `round ${round}`)
          fs.writeFileSync(file, "export const version = 'uncommitted'\n")
          yield* seen(() => {})
          assert.deepStrictEqual(yield* seen(() => git("checkout", "--", "src/Lang.ts")), expected, "git checkout")
        }
      }),
  )

  it.live("an editor's swap and backup files are not source changes", () =>
    Effect.gen(function* () {
      const { file, seen } = yield* watched
      const quiet = "500 millis"
      assert.deepStrictEqual(yield* seen(() => fs.writeFileSync(`${file}~`, "backup"), quiet), [])
      assert.deepStrictEqual(yield* seen(() => fs.writeFileSync(path.join(path.dirname(file), "4913"), ""), quiet), [])
      assert.deepStrictEqual(yield* seen(() => fs.writeFileSync(`${path.dirname(file)}/.Lang.ts.swp`, ""), quiet), [])
      // A folder created later is watched too.
      fs.mkdirSync(path.join(path.dirname(file), "inbound"))
      const nested = yield* seen(() => fs.writeFileSync(path.join(path.dirname(file), "inbound", "Http.ts"), ""))
      assert.deepStrictEqual(nested, [path.join("src", "inbound", "Http.ts")])
    }),
  )

  it("a service's folders: its own src and those of the workspace packages it depends on", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url))
    const folders = Watcher.foldersOf(root, "packages/greeter").map((folder) => path.relative(root, folder))
    for (const folder of [
      "packages/greeter/src",
      "packages/shared/src",
      "packages/contracts/src",
      "proto-compat/gen",
    ]) {
      assert.include(folders, folder)
    }
    assert.notInclude(folders, "packages/gateway/src")
  })
})
