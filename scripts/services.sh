#!/usr/bin/env bash
# Runs a command beside a private PostgreSQL and a private Redis, for the
# tests of the Postgres store and the Redis event bus (issue 10). Nothing may
# depend on a server left running on the machine, and nothing here touches
# one: both servers live in a fresh `mktemp -d` folder (data, logs, unix
# sockets), listen on 127.0.0.1 only, on free ports picked at random, and are
# stopped and deleted when the command ends: on success, on failure, and on
# SIGINT/SIGTERM.
#
#   scripts/services.sh run -- <command...>
#
# The command sees
#   PARLEY_TEST_POSTGRES_URL=postgres://parley@127.0.0.1:<port>/parley
#   PARLEY_TEST_REDIS_URL=redis://127.0.0.1:<port>
# and the script exits with the command's status. If either variable is
# already set (a developer running their own server), that server is used
# and not started here.
#
# Test data only: PostgreSQL runs with fsync, synchronous_commit and
# full_page_writes off, Redis saves nothing to disk. The cluster is made by
# `initdb` with trust authentication (local socket and 127.0.0.1), C
# collation (text sorts by bytes, as SQLite's BINARY collation does) and
# UTF-8, and holds a database named `parley` owned by the superuser `parley`.
#
# Root: `initdb`, `pg_ctl` and `postgres` refuse to run as root (a server
# bug must not be able to own the machine). CI and the shared build machine
# run as root, so when this script is root it creates a system user
# `parley-test` (no home, no login shell) if it is missing, gives it the temp
# folder, and starts both servers as that user with `runuser`. As any other
# user it runs them as itself.
set -euo pipefail

service_user=parley-test
pg_user=parley
pg_database=parley
# How long each server gets to accept connections.
start_timeout_secs=30

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  printf 'services.sh: %s\n' "$*" >&2
  exit 1
}

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  usage
  exit 0
fi
if [ "${1:-}" != "run" ] || [ "${2:-}" != "--" ] || [ "$#" -lt 3 ]; then
  usage >&2
  exit 2
fi
shift 2

# Debian keeps the server binaries out of PATH, under one folder per major version.
find_pg_bin() {
  local dir
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      printf '%s\n' "$dir"
      return
    fi
  done
  die "PostgreSQL's initdb/pg_ctl not found (on PATH or under /usr/lib/postgresql/*/bin): run scripts/install-tools.sh"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a server-side command as the unprivileged service user when we are
# root, else as ourselves; from inside the temp folder, so that a home folder
# the service user cannot enter is never its working directory.
as_service_user() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$tmp" && runuser -u "$service_user" -- "$@")
  else
    (cd "$tmp" && "$@")
  fi
}

ensure_service_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id -u "$service_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$service_user" ||
      die "could not create the system user $service_user (needed to run PostgreSQL as non-root)"
  fi
  chown -R "$service_user:" "$tmp"
}

log_tail() {
  local name="$1" file="$2"
  printf -- '--- last lines of the %s log (%s) ---\n' "$name" "$file" >&2
  tail -n 30 "$file" >&2 2>/dev/null || printf '(no log written)\n' >&2
  printf -- '---\n' >&2
}

pg_started=0
redis_started=0
child=""
tmp=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [ "$redis_started" -eq 1 ]; then
    redis-cli -s "$tmp/redis.sock" shutdown nosave >/dev/null 2>&1 ||
      { [ -f "$tmp/redis.pid" ] && kill -TERM "$(cat "$tmp/redis.pid")" 2>/dev/null; } || true
  fi
  if [ "$pg_started" -eq 1 ]; then
    # Immediate: the data is thrown away next, nothing needs a checkpoint.
    as_service_user "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  fi
  if [ -n "$tmp" ]; then
    rm -rf "$tmp"
  fi
  exit "$status"
}

on_signal() {
  local status="$1"
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true
  fi
  exit "$status"
}

trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

tmp="$(mktemp -d -t parley-services-XXXXXX)"

start_postgres() {
  local port url
  pg_bin="$(find_pg_bin)"
  port="$(free_port)"
  ensure_service_user
  if ! as_service_user "$pg_bin/initdb" -D "$tmp/pg" -U "$pg_user" --auth=trust \
    --encoding=UTF8 --no-locale --no-sync >"$tmp/initdb.log" 2>&1; then
    log_tail initdb "$tmp/initdb.log"
    die "PostgreSQL: initdb failed"
  fi
  mkdir -p "$tmp/pg-socket"
  [ "$(id -u)" -ne 0 ] || chown "$service_user:" "$tmp/pg-socket"
  pg_started=1
  if ! as_service_user "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/postgres.log" -w -t "$start_timeout_secs" \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$tmp/pg-socket \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=300 -c shared_buffers=64MB" \
    start >"$tmp/pg_ctl.log" 2>&1; then
    cat "$tmp/pg_ctl.log" >&2
    log_tail PostgreSQL "$tmp/postgres.log"
    die "PostgreSQL did not start on 127.0.0.1:$port (pg_ctl waited up to ${start_timeout_secs}s)"
  fi
  if ! pg_isready -q -h 127.0.0.1 -p "$port" -U "$pg_user" -t "$start_timeout_secs"; then
    log_tail PostgreSQL "$tmp/postgres.log"
    die "PostgreSQL does not accept connections on 127.0.0.1:$port"
  fi
  if ! psql -X -q -h 127.0.0.1 -p "$port" -U "$pg_user" -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE $pg_database" >"$tmp/createdb.log" 2>&1; then
    cat "$tmp/createdb.log" >&2
    log_tail PostgreSQL "$tmp/postgres.log"
    die "PostgreSQL: could not create the database $pg_database"
  fi
  url="postgres://$pg_user@127.0.0.1:$port/$pg_database"
  export PARLEY_TEST_POSTGRES_URL="$url"
}

start_redis() {
  local port waited=0
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found: run scripts/install-tools.sh"
  port="$(free_port)"
  ensure_service_user
  mkdir -p "$tmp/redis"
  [ "$(id -u)" -ne 0 ] || chown "$service_user:" "$tmp/redis"
  redis_started=1
  if ! as_service_user redis-server --bind 127.0.0.1 --port "$port" \
    --unixsocket "$tmp/redis.sock" --unixsocketperm 700 \
    --dir "$tmp/redis" --save "" --appendonly no \
    --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log" >"$tmp/redis-start.log" 2>&1; then
    cat "$tmp/redis-start.log" >&2
    log_tail Redis "$tmp/redis.log"
    die "Redis (redis-server) failed to start on 127.0.0.1:$port"
  fi
  until [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; do
    if [ "$waited" -ge "$((start_timeout_secs * 10))" ]; then
      log_tail Redis "$tmp/redis.log"
      die "Redis does not answer PING on 127.0.0.1:$port after ${start_timeout_secs}s"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  export PARLEY_TEST_REDIS_URL="redis://127.0.0.1:$port"
}

if [ -z "${PARLEY_TEST_POSTGRES_URL:-}" ]; then
  start_postgres
fi
if [ -z "${PARLEY_TEST_REDIS_URL:-}" ]; then
  start_redis
fi

# In the background so that a SIGTERM to this script is handled at once (bash
# runs traps only between foreground commands), with stdin passed on
# explicitly (a background command's stdin would be /dev/null).
status=0
"$@" <&0 &
child=$!
wait "$child" || status=$?
child=""
exit "$status"
