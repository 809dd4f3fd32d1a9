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

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
export DATABASE_URL="sqlite://$tmp/parley.db"
mkdir -p "$tmp/site"

echo "==> starting parley at $url (database in $tmp)"
LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$tmp/site" \
  PARLEY_RATE_PER_MINUTE=100000 PARLEY_LOCAL_ONLY=true PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE=100000 \
  PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR=100000 RUST_LOG=warn \
  "$bin/parley" serve >"$tmp/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 150); do
  if curl -fsS "$url/healthz" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "parley exited before it was ready:" >&2
    cat "$tmp/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "$url/healthz" >/dev/null

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
