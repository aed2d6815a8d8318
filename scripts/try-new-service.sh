#!/usr/bin/env bash
# ./platform new-service tried as a team meets it, in a clone of this commit: a REST and a
# Connect service generated, the workspace type-checked and linted with them, their tests and
# the drift tests (deploy configs against the routing table) run, then both removed, which must
# leave the clone exactly as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/repo"
cd "$work/repo"
pnpm install --frozen-lockfile --prefer-offline >/dev/null
./platform new-service orders --kind rest --port 8095
./platform new-service billing --kind connect --port 8096 --public
pnpm build
pnpm check
pnpm exec vitest run packages/orders packages/billing packages/system-tests/test/deploy.test.ts \
  packages/edge/test/Edge.test.ts proto-compat/test/contract.test.ts
./platform remove-service orders
./platform remove-service billing
changed=$(git status --porcelain)
if [ -n "$changed" ]; then
  echo "remove-service left changes behind:" >&2
  echo "$changed" >&2
  git diff >&2
  exit 1
fi
echo "new-service: both kinds generated, type-checked, linted and tested; remove-service left the clone clean"
