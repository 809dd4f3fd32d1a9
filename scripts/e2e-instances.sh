#!/usr/bin/env bash
# Runs Parley as two instances behind Debian's nginx, the way a scaled-out
# deployment runs (docs/deploy.md, "Behind nginx"), for the browser tests of
# that setup (end2end/playwright.instances.config.ts) or to try it by hand:
#
#   scripts/e2e-instances.sh -- <command...>   start everything, run the
#                                              command, stop everything
#   scripts/e2e-instances.sh                   start everything, serve until
#                                              Ctrl-C
#
# What it starts, all on 127.0.0.1, on free ports, in a fresh temp folder,
# and stops again when the command ends (success, failure, SIGINT/SIGTERM):
#   - a private PostgreSQL and Redis (scripts/services.sh; a server already
#     named by PARLEY_TEST_POSTGRES_URL / PARLEY_TEST_REDIS_URL is used
#     instead): a fresh database on it, dropped at the end, and a Redis
#     namespace of this run's own
#   - two `parley serve --demo` processes, instances a and b, on that one
#     database and that one Redis namespace, with the demo accounts, the
#     browser tests' settings (sign-in limits lifted, a 3 s presence grace)
#     and PARLEY_PUBLIC_URL set to nginx's address
#   - nginx in the foreground (`-p <temp>/nginx -c … -g 'daemon off;'`: pid,
#     logs and temp files inside the temp folder) with the repository's
#     deploy/nginx/parley.conf, whose addresses on the lines marked
#     `# TEST-SUBSTITUTED:` become the ports picked here; nothing else of the
#     file changes
#
# The command sees
#   PARLEY_BASE_URL=http://127.0.0.1:<nginx port>
#   PARLEY_INSTANCE_A=127.0.0.1:<port of a>   (what nginx's X-Parley-Upstream
#   PARLEY_INSTANCE_B=127.0.0.1:<port of b>    header says for each)
# and the script exits with the command's status; on failure it prints the
# last lines of every log first.
#
# Settings (environment):
#   PARLEY_BIN        the parley binary (default target/debug/parley, what
#                     `scripts/test.sh e2e` builds; $CARGO_TARGET_DIR/debug/parley
#                     when that is set)
#   LEPTOS_SITE_ROOT  the built site (default target/site)
#   PARLEY_E2E_PORT   nginx's port (default: a free one)
#   NGINX             the nginx binary (default: nginx on PATH, or /usr/sbin/nginx)
#
# Root: nginx's master stays root and its worker runs as `nobody:nogroup`
# (the `user` directive); the temp folder is made traversable for it and
# nginx's temp paths are given to it. PostgreSQL and Redis run as the
# `parley-test` user (scripts/services.sh). As any other user everything runs
# as that user and no `user` directive is written.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${PARLEY_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/parley}"
site="${LEPTOS_SITE_ROOT:-$root/target/site}"
conf_src="$root/deploy/nginx/parley.conf"
# How long an instance or nginx gets to answer /healthz.
start_timeout_secs=60

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  printf 'e2e-instances.sh: %s\n' "$*" >&2
  exit 1
}

args=("$@")
command=()
case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  --)
    shift
    [ "$#" -gt 0 ] || {
      usage >&2
      exit 2
    }
    command=("$@")
    ;;
  "") ;;
  *)
    usage >&2
    exit 2
    ;;
esac

nginx_bin="${NGINX:-$(command -v nginx || true)}"
if [ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ]; then
  nginx_bin=/usr/sbin/nginx
fi
[ -n "$nginx_bin" ] || die "nginx not found: run scripts/install-tools.sh (Debian's nginx package)"
[ -x "$bin" ] || die "no parley binary at $bin: build it with \`cargo leptos build --split\` (or scripts/test.sh e2e), or set PARLEY_BIN"
[ -d "$site/pkg" ] || die "no built site at $site (no pkg/ in it): build it with \`cargo leptos build --split\`, or set LEPTOS_SITE_ROOT"
[ -f "$conf_src" ] || die "missing $conf_src"
command -v psql >/dev/null 2>&1 || die "psql not found: run scripts/install-tools.sh"

# Beside a private PostgreSQL and Redis, unless both are given.
if [ -z "${PARLEY_TEST_POSTGRES_URL:-}" ] || [ -z "${PARLEY_TEST_REDIS_URL:-}" ]; then
  exec "$root/scripts/services.sh" run -- "${BASH_SOURCE[0]}" "${args[@]}"
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until GET <url> answers 200, while process <pid> lives.
wait_healthy() {
  local name="$1" url="$2" pid="$3" log="$4"
  if ! python3 - "$url" "$pid" "$start_timeout_secs" <<'EOF'; then
import os, sys, time, urllib.request
url, pid, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("exited")
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit("timed out")
EOF
    log_tail "$name" "$log"
    die "$name did not answer $url within ${start_timeout_secs}s"
  fi
}

log_tail() {
  local name="$1" file="$2"
  printf -- '--- last lines of the %s log (%s) ---\n' "$name" "$file" >&2
  tail -n 40 "$file" >&2 2>/dev/null || printf '(no log written)\n' >&2
  printf -- '---\n' >&2
}

tmp=""
database=""
namespace=""
child=""
nginx_pid=""
pid_a=""
pid_b=""
signalled=0

# SIGTERM, then SIGKILL after 10 s; waits for the process.
stop() {
  local pid="$1" waited=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 100 ]; then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$child" ]; then
    stop "$child"
  fi
  # A failure (not a stop asked for with a signal): show what the servers said.
  if [ "$status" -ne 0 ] && [ "$signalled" -eq 0 ] && [ -n "$tmp" ]; then
    for log in a b nginx-error; do
      [ -f "$tmp/$log.log" ] && log_tail "$log" "$tmp/$log.log"
    done
  fi
  # nginx first: no new requests reach an instance that is stopping.
  stop "$nginx_pid"
  stop "$pid_a"
  stop "$pid_b"
  if [ -n "$database" ]; then
    psql -X -q "$PARLEY_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ -n "$namespace" ]; then
    redis-cli -u "$PARLEY_TEST_REDIS_URL" --scan --pattern "$namespace:*" 2>/dev/null |
      xargs -r redis-cli -u "$PARLEY_TEST_REDIS_URL" del >/dev/null 2>&1 || true
  fi
  if [ -n "$tmp" ]; then
    rm -rf "$tmp"
  fi
  exit "$status"
}

on_signal() {
  local status="$1"
  signalled=1
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true
  fi
  exit "$status"
}

trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

tmp="$(mktemp -d -t parley-e2e-instances-XXXXXX)"
port="${PARLEY_E2E_PORT:-$(free_port)}"
port_a="$(free_port)"
port_b="$(free_port)"
while [ "$port_b" = "$port_a" ] || [ "$port_b" = "$port" ]; do port_b="$(free_port)"; done
while [ "$port_a" = "$port" ]; do port_a="$(free_port)"; done
public_url="http://127.0.0.1:$port"

# A database and a namespace of this run's own, so that a server given by
# the caller is shared safely.
database="parley_e2e_instances_$$_$RANDOM"
psql -X -q "$PARLEY_TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$database\"" >"$tmp/createdb.log" 2>&1 ||
  {
    cat "$tmp/createdb.log" >&2
    database=""
    die "could not create a database on $PARLEY_TEST_POSTGRES_URL"
  }
namespace="parley-e2e-$$-$RANDOM"

# What both instances share: one database, one Redis namespace, one public
# URL (the Origin every browser request carries), and the browser tests'
# settings of scripts/e2e-server.sh.
export DATABASE_URL="${PARLEY_TEST_POSTGRES_URL%/*}/$database"
export REDIS_URL="$PARLEY_TEST_REDIS_URL"
export PARLEY_REDIS_NAMESPACE="$namespace"
export LEPTOS_SITE_ROOT="$site"
export PARLEY_PUBLIC_URL="$public_url"
unset PARLEY_LOCAL_ONLY
# nginx connects from 127.0.0.1: believe its X-Forwarded-For.
export PARLEY_TRUSTED_PROXIES=127.0.0.1
export PARLEY_DEMO=true
export PARLEY_PRESENCE_GRACE_SECS="${PARLEY_PRESENCE_GRACE_SECS:-3}"
export RUST_LOG="${RUST_LOG:-warn,server=info}"
export PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE="${PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE:-100000}"
export PARLEY_SIGNINS_PER_ACCOUNT_PER_HOUR="${PARLEY_SIGNINS_PER_ACCOUNT_PER_HOUR:-100000}"
export PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR="${PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR:-100000}"

# Migrations and the demo accounts once, before either instance starts.
"$bin" seed-demo >"$tmp/seed.log" 2>&1 || {
  log_tail seed-demo "$tmp/seed.log"
  die "parley seed-demo failed"
}

LEPTOS_SITE_ADDR="127.0.0.1:$port_a" "$bin" serve >"$tmp/a.log" 2>&1 &
pid_a=$!
LEPTOS_SITE_ADDR="127.0.0.1:$port_b" "$bin" serve >"$tmp/b.log" 2>&1 &
pid_b=$!
wait_healthy "instance a" "http://127.0.0.1:$port_a/healthz" "$pid_a" "$tmp/a.log"
wait_healthy "instance b" "http://127.0.0.1:$port_b/healthz" "$pid_b" "$tmp/b.log"

# The tested config: the repository's file with the ports of this run.
mkdir -p "$tmp/nginx/temp"
sed -e "s/127\\.0\\.0\\.1:3001;/127.0.0.1:$port_a;/" \
  -e "s/127\\.0\\.0\\.1:3001 /127.0.0.1:$port_a /" \
  -e "s/127\\.0\\.0\\.1:3002;/127.0.0.1:$port_b;/" \
  -e "s/127\\.0\\.0\\.1:3002 /127.0.0.1:$port_b /" \
  -e "s/^\\( *\\)listen 8080;/\\1listen 127.0.0.1:$port;/" \
  "$conf_src" >"$tmp/nginx/parley.conf"
# Every marked line must have changed, and nothing else.
if grep -E '; +# TEST-SUBSTITUTED:' "$tmp/nginx/parley.conf" | grep -Eq '127\.0\.0\.1:300[12][; ]|listen 8080;'; then
  die "deploy/nginx/parley.conf: a TEST-SUBSTITUTED address was not replaced (is it still 127.0.0.1:3001 / :3002 / listen 8080?)"
fi
[ "$(diff "$conf_src" "$tmp/nginx/parley.conf" | grep -c '^>')" -eq "$(grep -cE '; +# TEST-SUBSTITUTED:' "$conf_src")" ] ||
  die "deploy/nginx/parley.conf: the port substitution changed other lines than the TEST-SUBSTITUTED ones"

# What Debian's /etc/nginx/nginx.conf gives the file around it, kept inside
# the temp folder.
user_line=""
if [ "$(id -u)" -eq 0 ]; then
  user_line="user nobody nogroup;"
  chmod 0711 "$tmp" "$tmp/nginx"
  chown nobody:nogroup "$tmp/nginx/temp"
fi
cat >"$tmp/nginx/nginx.conf" <<EOF
# Written by scripts/e2e-instances.sh around deploy/nginx/parley.conf.
$user_line
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx-error.log warn;
events {
    worker_connections 512;
}
http {
    log_format parley '\$remote_addr "\$request" \$status pin=\$cookie_parley_pin upstream=\$upstream_addr \$request_time';
    access_log $tmp/nginx-access.log parley;
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    include $tmp/nginx/parley.conf;
}
EOF
nginx_args=(-p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -g 'daemon off;')
if ! "$nginx_bin" -t -q "${nginx_args[@]}" >"$tmp/nginx-t.log" 2>&1; then
  cat "$tmp/nginx-t.log" >&2
  die "nginx -t refused the config ($tmp/nginx/nginx.conf)"
fi
"$nginx_bin" "${nginx_args[@]}" >>"$tmp/nginx-error.log" 2>&1 &
nginx_pid=$!
wait_healthy nginx "$public_url/healthz" "$nginx_pid" "$tmp/nginx-error.log"

export PARLEY_BASE_URL="$public_url"
export PARLEY_INSTANCE_A="127.0.0.1:$port_a"
export PARLEY_INSTANCE_B="127.0.0.1:$port_b"
printf 'e2e-instances.sh: Parley behind nginx at %s (instance a %s, b %s; PostgreSQL database %s, Redis namespace %s)\n' \
  "$public_url" "$PARLEY_INSTANCE_A" "$PARLEY_INSTANCE_B" "$database" "$namespace" >&2

status=0
if [ "${#command[@]}" -eq 0 ]; then
  printf 'e2e-instances.sh: serving until Ctrl-C (logs in %s)\n' "$tmp" >&2
  # In the background so that the signal traps run at once.
  while kill -0 "$nginx_pid" 2>/dev/null && kill -0 "$pid_a" 2>/dev/null && kill -0 "$pid_b" 2>/dev/null; do
    sleep 1 &
    wait $! || true
  done
  die "a process stopped by itself (nginx, instance a or b)"
fi
# In the background so that a SIGTERM to this script is handled at once, with
# stdin passed on explicitly.
"${command[@]}" <&0 &
child=$!
wait "$child" || status=$?
child=""
exit "$status"
