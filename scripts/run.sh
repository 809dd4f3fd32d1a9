#!/usr/bin/env bash
# Runs Parley on this machine with the embedded default: a SQLite file under
# ./data/, no other server. Installs whatever is missing first (see
# scripts/install-tools.sh), builds with cargo-leptos, creates the demo
# accounts, and serves at http://127.0.0.1:3000 (PARLEY_ADDR to change it).
#
#   scripts/run.sh            debug build (quickest to build)
#   scripts/run.sh --release  optimised build (what you would deploy)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/install-tools.sh"
export PATH="$root/tools/node_modules/.bin:$PATH"

profile=debug
build_flags=()
if [ "${1:-}" = "--release" ]; then
  profile=release
  build_flags=(--release --precompress)
fi

cargo leptos build "${build_flags[@]}"

export DATABASE_URL="${DATABASE_URL:-sqlite://data/parley.db}"
export LEPTOS_SITE_ROOT="target/site"
export LEPTOS_SITE_ADDR="${PARLEY_ADDR:-127.0.0.1:3000}"
bin="target/$profile/parley"

echo
"$bin" seed-demo
echo
echo "Parley is starting at http://$LEPTOS_SITE_ADDR  (Ctrl-C to stop)"
exec "$bin" serve
