#!/usr/bin/env bash
# Server memory per idle socket (docs/performance.md, "Idle sockets"): starts
# the release `parley` on a free port with a fresh SQLite database and the
# socket caps raised, runs `parley-loadgen idle` with the given options
# against it, prints the load generator's table and JSON line, stops the
# server. Build first: cargo build --release -p server -p loadgen
#
#   scripts/idle-sockets.sh --sockets 10000 --accounts 100
#   scripts/idle-sockets.sh --sockets 10000 --accounts 1 --staff
#   scripts/idle-sockets.sh --sockets 50000 --accounts 100
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
# Another server binary (to compare builds): PARLEY_BIN=/path/to/parley
parley="${PARLEY_BIN:-$bin/parley}"
# Both processes hold one descriptor per socket: raise the open-file limit
# as far as this shell may (a hard limit of 20,000 caps a run near 19,000).
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open-file limit: $(ulimit -n)" >&2

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
LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$tmp/site" \
  PARLEY_MAX_SOCKETS=100000 PARLEY_MAX_SOCKETS_PER_USER=100000 \
  PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE=1000000 PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR=1000000 \
  PARLEY_LOCAL_ONLY=true RUST_LOG=warn \
  "$parley" serve >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
  curl -fsS "$url/healthz" >/dev/null 2>&1 && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$tmp/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
status=0
"$bin/parley-loadgen" --url "$url" --server-pid "$server_pid" \
  --parley-bin "$parley" --database-url "$DATABASE_URL" \
  idle "$@" || status=$?
if grep -q -i -E "error|warn" "$tmp/server.log"; then
  echo "--- server log (warnings and errors, first 20 lines):" >&2
  grep -i -E "error|warn" "$tmp/server.log" | head -20 >&2
fi
exit "$status"
