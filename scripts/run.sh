#!/usr/bin/env bash
# Runs Parley on this machine with the embedded default: a SQLite file under
# ./data/, no other server. Installs whatever is missing first (see
# scripts/install-tools.sh), builds with cargo-leptos, and serves at
# http://127.0.0.1:3000 (PARLEY_ADDR to change it).
#
#   scripts/run.sh            debug build (quickest to build), a demo: creates
#                             the demo accounts and serves with --demo
#   scripts/run.sh --release  optimised build (what you would deploy): no demo
#                             accounts, its own database file
#                             (data/parley-release.db); create the first
#                             admin with `parley create-user` (see README);
#                             serves this machine only (--local-only) unless
#                             PARLEY_PUBLIC_URL is set
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/install-tools.sh"
export PATH="$root/tools/node_modules/.bin:$PATH"

# --split: the pages behind an account are loaded on demand (app/src/routes.rs).
profile=debug
build_flags=(--split)
if [ "${1:-}" = "--release" ]; then
  profile=release
  build_flags=(--release --precompress --split)
fi

cargo leptos build "${build_flags[@]}"

export LEPTOS_SITE_ROOT="target/site"
export LEPTOS_SITE_ADDR="${PARLEY_ADDR:-127.0.0.1:3000}"
bin="target/$profile/parley"

if [ "$profile" = debug ]; then
  export DATABASE_URL="${DATABASE_URL:-sqlite://data/parley.db}"
  echo
  "$bin" seed-demo
  echo
  echo "Parley (demo) is starting at http://$LEPTOS_SITE_ADDR  (Ctrl-C to stop)"
  exec "$bin" serve --demo
fi

# The release run never has demo accounts, so it keeps its own database: the
# demo run's accounts (published passwords) would make `serve` refuse it.
export DATABASE_URL="${DATABASE_URL:-sqlite://data/parley-release.db}"
echo
echo "No demo accounts in a release run. Create the first admin with:"
echo "  $bin --database-url $DATABASE_URL create-user --email you@example.com --name You --role admin --password-stdin"
echo "(type the password, then Enter)"
echo
echo "Parley is starting at http://$LEPTOS_SITE_ADDR  (Ctrl-C to stop)"
# A release build does not trust the Host header: it needs the public URL,
# or to be told it serves this machine only.
if [ -n "${PARLEY_PUBLIC_URL:-}" ]; then
  exec "$bin" serve
fi
exec "$bin" serve --local-only
