#!/usr/bin/env bash
# The chat workload on PostgreSQL + Redis, on one or several instances: the
# figures in docs/performance.md ("PostgreSQL and Redis"). Starts a private
# PostgreSQL and Redis (scripts/services.sh), N release `parley serve`
# instances on that one database and one Redis namespace, and drives them
# with the load generator, customers and agents spread so that a
# conversation's two sides are on different instances when N > 1. Prints
# the load generator's table and JSON line, then what PostgreSQL and Redis
# spent (CPU seconds of their processes during the run).
#
#   scripts/loadgen-scaleout.sh [instances] [msg/s] [seconds]    (defaults: 1 1000 30)
#
# Build first: cargo build --release -p server -p loadgen. The run is a
# measurement, not a test: it fails only if the load generator does (lost,
# duplicated or refused messages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"

if [ "${1:-}" != "--inner" ]; then
  exec "$root/scripts/services.sh" run -- "$0" --inner "$@"
fi
shift
instances="${1:-1}"
rate="${2:-1000}"
duration="${3:-30}"
conversations="${CONVERSATIONS:-1000}"
[ -x "$bin/parley" ] && [ -x "$bin/parley-loadgen" ] ||
  { echo "build first: cargo build --release -p server -p loadgen" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || true

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/site"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# CPU seconds (user + system) of every process of the private servers.
service_cpu() {
  local pattern="$1" total=0 pid
  for pid in $(pgrep -f "$pattern" || true); do
    total=$(awk -v t="$total" '{ i = index($0, ") "); split(substr($0, i + 2), f, " "); printf "%.2f", t + (f[12] + f[13]) / 100 }' "/proc/$pid/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}

export DATABASE_URL="$PARLEY_TEST_POSTGRES_URL"
urls=()
for n in $(seq 1 "$instances"); do
  port="$(free_port)"
  LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$tmp/site" \
    REDIS_URL="$PARLEY_TEST_REDIS_URL" PARLEY_REDIS_NAMESPACE=perf \
    PARLEY_RATE_PER_MINUTE=1000000 PARLEY_MAX_SOCKETS_PER_USER=1000 PARLEY_MAX_SOCKETS=20000 \
    PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE=1000000 PARLEY_SIGNINS_PER_ACCOUNT_PER_HOUR=1000000 \
    PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR=1000000 PARLEY_LOCAL_ONLY=true RUST_LOG=warn \
    "$bin/parley" serve >"$tmp/server-$n.log" 2>&1 &
  pids+=($!)
  urls+=("http://127.0.0.1:$port")
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$tmp/server-$n.log" >&2; exit 2; }
done
url_list="$(IFS=,; echo "${urls[*]}")"
pid_list="$(IFS=,; echo "${pids[*]}")"
echo "==> $instances instance(s) at $url_list on PostgreSQL + Redis; $rate msg/s for $duration s over $conversations conversations"

pg_before="$(service_cpu 'postgres')"
redis_before="$(service_cpu 'redis-server')"
"$bin/parley-loadgen" --url "$url_list" --server-pid "$pid_list" \
  --parley-bin "$bin/parley" --database-url "$DATABASE_URL" --prefix perf \
  chat --customers "$conversations" --agents 10 --conversations "$conversations" \
  --rate "$rate" --duration "$duration"
pg_after="$(service_cpu 'postgres')"
redis_after="$(service_cpu 'redis-server')"
awk -v a="$pg_before" -v b="$pg_after" -v c="$redis_before" -v d="$redis_after" \
  'BEGIN { printf "PostgreSQL CPU s (setup + run): %.1f\nRedis CPU s (setup + run): %.1f\n", b - a, d - c }'
