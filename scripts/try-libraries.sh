#!/usr/bin/env bash
# The kernel's libraries tried as another team meets them: packed as they would be published
# (pnpm pack applies publishConfig: dist/*.js and .d.ts), installed with npm into an empty folder
# next to effect and the peers, then imported by plain Node (no flags, no type stripping) and
# type-checked by a strict TypeScript consumer. Needs the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for lib in embedded-postgres resilience shared testkit; do
  pnpm --dir "packages/$lib" pack --pack-destination "$work/packs" >/dev/null
done
mkdir "$work/consumer"
cd "$work/consumer"
printf '{"name":"consumer","private":true,"type":"module"}\n' >package.json
npm install --no-audit --no-fund --loglevel=error "$work"/packs/*.tgz \
  effect@4.1.0 @effect/platform-node@4.1.0 @effect/sql-pg@4.0.5 @bufbuild/protobuf@2.17.0 typescript@5.9 @types/node@22 >/dev/null
cat >try.ts <<'TS'
import { CircuitBreaker } from "@platform/resilience"
import { Health, Metrics } from "@platform/shared"
import { PrometheusText } from "@platform/testkit"
import { Effect } from "effect"

const program = Effect.gen(function* () {
  const breaker = yield* CircuitBreaker.make<string>({ name: "try", readyToTrip: (counts) => counts.consecutiveFailures >= 1 })
  yield* Effect.flip(breaker.execute(Effect.fail("boom")))
  const rejected = yield* Effect.flip(breaker.execute(Effect.succeed("never")))
  const kernel = [typeof Health.layer, typeof Metrics.atZero, typeof PrometheusText.parse].join(",")
  return `${yield* breaker.state}: ${rejected.message}; kernel ${kernel}`
})
Effect.runPromise(Effect.scoped(program)).then((line) => process.stdout.write(`${line}\n`))
TS
# Strict, and the libraries' own .d.ts checked too (skipLibCheck off).
node_modules/.bin/tsc --strict --skipLibCheck false --module nodenext --moduleResolution nodenext --target es2024 \
  --types node --outDir out try.ts
node -e "import('@platform/resilience').then((m) => console.log('import(\"@platform/resilience\"):', Object.keys(m).join(', ')))"
node out/try.js
