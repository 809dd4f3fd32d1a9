# Sourced, not run: starts a throwaway `parley serve` for a measurement or a
# smoke run — a fresh SQLite file in a temp folder, a free loopback port,
# local-only — waits until it answers /healthz, and stops it and removes the
# folder when the calling script exits. Used by scripts/loadgen-smoke.sh and
# scripts/idle-sockets.sh.
#
#   source "$root/scripts/lib/fresh-server.sh"
#   start_fresh_server /path/to/parley [VAR=value ...]   # extra environment for the server
#
# Sets: tmp (the folder; the server log is $tmp/server.log), url,
# server_pid, and exports DATABASE_URL.

tmp="$(mktemp -d)"
server_pid=""
cleanup_fresh_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup_fresh_server EXIT

start_fresh_server() {
  local parley="$1"
  shift
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  url="http://127.0.0.1:$port"
  export DATABASE_URL="sqlite://$tmp/parley.db"
  mkdir -p "$tmp/site"
  env LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$tmp/site" \
    PARLEY_LOCAL_ONLY=true RUST_LOG=warn "$@" \
    "$parley" serve >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do
    if curl -fsS "$url/healthz" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "parley exited before it was ready:" >&2
      cat "$tmp/server.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  curl -fsS "$url/healthz" >/dev/null
}
