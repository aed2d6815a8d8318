# Sourced by ./platform and .ci/run: puts a Node.js >= 22.19 and the pinned pnpm on PATH,
# installing them from the npm registry into a cache folder when the machine lacks them
# (Debian's Node 20 is too old for Effect 4). Idempotent and quiet when all is in place.

# Node and pnpm go in folders of their own: one `npm install --no-save` prunes what another put there.
toolchain_dir="${XDG_CACHE_HOME:-$HOME/.cache}/effect-platform"
toolchain_node_major=24

toolchain_fail() { printf 'toolchain: %s\n' "$*" >&2; return 1; }

# npm's and pnpm's notices of newer versions (pnpm's advises piping curl into sh) say nothing
# about this project: installs stay quiet. Both read npm_config_* from the environment.
export npm_config_update_notifier=false

toolchain_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null
}

toolchain_setup() {
  local repo pnpm_version
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  command -v npm >/dev/null 2>&1 || { toolchain_fail "npm is needed to install Node.js and pnpm"; return 1; }
  pnpm_version=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$repo/package.json")
  [ -n "$pnpm_version" ] || { toolchain_fail "package.json pins no pnpm version"; return 1; }

  if ! toolchain_node_ok; then
    if [ ! -x "$toolchain_dir/node/node_modules/.bin/node" ]; then
      printf 'toolchain: node %s is older than 22.19; installing node@%s into %s\n' \
        "$(node --version 2>/dev/null || echo '(none)')" "$toolchain_node_major" "$toolchain_dir/node" >&2
      mkdir -p "$toolchain_dir/node"
      npm install --prefix "$toolchain_dir/node" --no-save --no-audit --no-fund --loglevel=error \
        "node@$toolchain_node_major" >/dev/null || { toolchain_fail "could not install node@$toolchain_node_major"; return 1; }
    fi
    export PATH="$toolchain_dir/node/node_modules/.bin:$PATH"
    toolchain_node_ok || { toolchain_fail "node $(node --version) is still older than 22.19"; return 1; }
  fi

  if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
    if [ "$("$toolchain_dir/pnpm-$pnpm_version/node_modules/.bin/pnpm" --version 2>/dev/null || true)" != "$pnpm_version" ]; then
      printf 'toolchain: installing pnpm@%s into %s\n' "$pnpm_version" "$toolchain_dir/pnpm-$pnpm_version" >&2
      mkdir -p "$toolchain_dir/pnpm-$pnpm_version"
      npm install --prefix "$toolchain_dir/pnpm-$pnpm_version" --no-save --no-audit --no-fund --loglevel=error \
        "pnpm@$pnpm_version" >/dev/null || { toolchain_fail "could not install pnpm@$pnpm_version"; return 1; }
    fi
    export PATH="$toolchain_dir/pnpm-$pnpm_version/node_modules/.bin:$PATH"
  fi
}
