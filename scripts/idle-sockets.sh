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

source "$root/scripts/lib/fresh-server.sh"
start_fresh_server "$parley" \
  PARLEY_MAX_SOCKETS=100000 PARLEY_MAX_SOCKETS_PER_USER=100000 \
  PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE=1000000 PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR=1000000
status=0
"$bin/parley-loadgen" --url "$url" --server-pid "$server_pid" \
  --parley-bin "$parley" --database-url "$DATABASE_URL" \
  idle "$@" || status=$?
if grep -q -i -E "error|warn" "$tmp/server.log"; then
  echo "--- server log (warnings and errors, first 20 lines):" >&2
  grep -i -E "error|warn" "$tmp/server.log" | head -20 >&2
fi
exit "$status"
