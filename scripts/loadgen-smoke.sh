#!/usr/bin/env bash
# A short smoke run of the load generator against a real server: builds the
# debug `parley` and `parley-loadgen`, starts Parley on a free port with a
# throwaway SQLite database, drives a few seconds of chat at a modest rate
# and opens a few hundred idle sockets, and fails unless every message
# arrived exactly once (the load generator exits non-zero on any lost,
# duplicated or refused message, or a socket that failed). It checks
# correctness under load, not speed: docs/performance.md has the figures.
#
#   scripts/loadgen-smoke.sh                 debug build (the default)
#   LOADGEN_SMOKE_PROFILE=release scripts/loadgen-smoke.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
profile="${LOADGEN_SMOKE_PROFILE:-debug}"
build_flags=()
if [ "$profile" = "release" ]; then
  build_flags=(--release)
fi

echo "==> building parley and parley-loadgen ($profile)"
cargo build "${build_flags[@]}" -p server -p loadgen
bin="$target/$profile"

source "$root/scripts/lib/fresh-server.sh"
echo "==> starting parley (database in $tmp)"
start_fresh_server "$bin/parley" \
  PARLEY_RATE_PER_MINUTE=100000 PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE=100000 \
  PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR=100000
echo "==> parley at $url"

loadgen=("$bin/parley-loadgen" --url "$url" --server-pid "$server_pid"
  --parley-bin "$bin/parley" --database-url "$DATABASE_URL" --prefix smoke)

echo "==> chat: 20 conversations (40 sockets), 50 messages/s for 4 s"
status=0
"${loadgen[@]}" chat --customers 10 --agents 2 --conversations 20 --rate 50 --duration 4 || status=$?
if [ "$status" -ne 0 ]; then
  echo "loadgen chat failed (exit $status); server log:" >&2
  tail -n 50 "$tmp/server.log" >&2
  exit 1
fi

echo "==> step: 30 then 60 messages/s, 2 s each, over 10 conversations"
"${loadgen[@]}" step --customers 10 --agents 2 --conversations 10 --rates 30,60 --duration 2 >"$tmp/step.out" || status=$?
if [ "$status" -ne 0 ] || ! grep -q '"mode":"step"' "$tmp/step.out"; then
  cat "$tmp/step.out" >&2
  echo "loadgen step failed (exit $status); server log:" >&2
  tail -n 50 "$tmp/server.log" >&2
  exit 1
fi
grep -E "offered|held" "$tmp/step.out"

echo "==> idle: 200 sockets over 5 accounts"
"${loadgen[@]}" idle --sockets 200 --accounts 5 --settle-secs 1 --hold-secs 1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "loadgen idle failed (exit $status); server log:" >&2
  tail -n 50 "$tmp/server.log" >&2
  exit 1
fi

echo "==> loadgen smoke passed: 0 lost, 0 duplicated"
