#!/usr/bin/env bash
# Runs Parley's tests, on a fresh machine too. With no stage named it runs
# every stage in order (what CI runs through .ci/run) and stops at the first
# failure; name one or more stages to run just those. Each stage prints its
# time, and a table of all stage times closes the run.
#
#   scripts/test.sh                 everything
#   scripts/test.sh rust            one stage
#   scripts/test.sh lint rust       several, in the order given
#   scripts/test.sh --help          the stages
#
# Stages (in the order of a full run):
#   install    install what is missing (scripts/install-tools.sh); a full run
#              always starts here, single stages expect the tools in place
#   fmt        cargo fmt --check
#   leptosfmt  leptosfmt --check on the view! macros in app/ (format with
#              `leptosfmt app/src && cargo fmt --all`)
#   lint       clippy for the server build (ssr) and the browser build (wasm32)
#   deny       cargo deny check licenses bans sources (deny.toml)
#   schema     migrations/postgres against migrations/sqlite on a private
#              PostgreSQL (scripts/services.sh, scripts/schema-parity.py)
#   rust       Rust unit and integration tests (real server, SQLite, WebSockets;
#              a private Redis for the scale-out tests, scripts/services.sh)
#   postgres   the store and API suites again on a private PostgreSQL (and Redis)
#   loadgen    a few seconds of the load generator: nothing lost or doubled
#   e2e        cargo leptos build --split, then Playwright on Debian's Chromium
#   e2e-instances
#              Playwright through Debian's nginx (deploy/nginx/parley.conf) in
#              front of two instances on one private PostgreSQL and Redis,
#              customer and agent pinned to different instances
#              (scripts/e2e-instances.sh); the binary and site of the e2e
#              stage's build
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Incremental caches only cost disk (gigabytes) on a run that builds once.
export CARGO_INCREMENTAL=0
export PATH="$root/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

all_stages=(install fmt leptosfmt lint deny schema rust postgres loadgen e2e e2e-instances)
# The crates linted and tested for the server side (the wasm-only frontend is
# linted by its own target).
server_crates=(-p parley -p backend -p app -p server -p loadgen -p testkit)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

stage_install() {
  "$root/scripts/install-tools.sh"
}

stage_fmt() {
  cargo fmt --all -- --check
}

stage_leptosfmt() {
  need leptosfmt
  # leptosfmt.toml sets the width to rustfmt's; rustfmt then owns the rest.
  leptosfmt --check app/src
}

stage_lint() {
  cargo clippy "${server_crates[@]}" --all-targets -- -D warnings
  cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings
}

stage_deny() {
  need cargo-deny
  # The advisory database cannot be fetched from these machines: licenses,
  # bans (duplicate versions) and sources only.
  cargo deny --locked --workspace check --hide-inclusion-graph licenses bans sources
}

stage_schema() {
  "$root/scripts/services.sh" run -- python3 "$root/scripts/schema-parity.py"
}

stage_rust() {
  # Beside a private Redis (and PostgreSQL): the scale-out tests need it
  # (PARLEY_TEST_REDIS_URL); without it they would only print a note.
  "$root/scripts/services.sh" run -- cargo test "${server_crates[@]}"
}

stage_postgres() {
  # The same suites on the other engine: each test gets a database of its
  # own on the private server (backend::scratch), the scale-out tests two
  # instances on one database and one Redis. The same package set as the
  # rust stage, so cargo resolves the same features and reuses its test
  # binaries (`-p backend -p server` alone would rebuild them all).
  PARLEY_TEST_DATABASE=postgres "$root/scripts/services.sh" run -- \
    cargo test "${server_crates[@]}" --test store --test api
}

stage_loadgen() {
  "$root/scripts/loadgen-smoke.sh"
}

stage_e2e() {
  need cargo-leptos
  local port
  substep "cargo leptos build --split"
  cargo leptos build --split
  substep "Playwright (Debian Chromium)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  (cd end2end && PARLEY_E2E_PORT="$port" npx playwright test)
}

stage_e2e-instances() {
  need cargo-leptos
  # The e2e stage's build: `cargo leptos build --split` again finds
  # everything fresh (a few seconds) after it, and still builds when this
  # stage runs alone.
  substep "cargo leptos build --split (reused)"
  cargo leptos build --split
  substep "Playwright via nginx"
  "$root/scripts/e2e-instances.sh" -- \
    "$root/end2end/node_modules/.bin/playwright" test --config "$root/end2end/playwright.instances.config.ts"
}

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "$1 is not installed: run scripts/install-tools.sh (or scripts/test.sh install)" >&2
    return 1
  fi
}

# CPU seconds (user + system) used so far by finished child processes, in
# $cpu: with other work on the machine, wall time alone says little. `times`
# must run in this shell (a subshell has no children of its own).
cpu_file="$(mktemp -t parley-test-cpu-XXXXXX)"
cpu=0
read_cpu() {
  times >"$cpu_file"
  cpu=$(awk 'NR == 2 {
    total = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); total += p[1] * 60 + p[2] }
    printf "%d", total
  }' "$cpu_file")
}

run_started=$SECONDS
stage_cpu=0
stage_started=$SECONDS
substep_started=$SECONDS
substep_name=""
times=()
sub_rows=()
current=""

substep() {
  end_substep
  substep_name="$1"
  substep_started=$SECONDS
  printf '\033[1;34m  -> %s\033[0m\n' "$1"
}

end_substep() {
  if [ -n "$substep_name" ]; then
    printf '\033[1;34m  <- %s: %ds\033[0m\n' "$substep_name" "$((SECONDS - substep_started))"
    sub_rows+=("  - $substep_name|$((SECONDS - substep_started))|")
    substep_name=""
  fi
}

summary() {
  local status=$? row name secs
  end_substep
  if [ -n "$current" ]; then
    read_cpu
    times+=("$current (FAILED)|$((SECONDS - stage_started))|$((cpu - stage_cpu))" "${sub_rows[@]}")
  fi
  printf '\n\033[1m%-32s %8s %8s\033[0m\n' "stage" "seconds" "cpu s"
  for row in "${times[@]}"; do
    IFS='|' read -r name secs cpu <<<"$row"
    printf '%-32s %8s %8s\n' "$name" "$secs" "$cpu"
  done
  read_cpu
  rm -f "$cpu_file"
  printf '\033[1m%-32s %8s %8s\033[0m\n' "total" "$((SECONDS - run_started))" "$cpu"
  printf '(load average now: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$status" -eq 0 ]; then
    printf '\033[1;32mall stages passed in %ds\033[0m\n' "$((SECONDS - run_started))"
  else
    printf '\033[1;31mfailed in stage %s after %ds\033[0m\n' "${current:-?}" "$((SECONDS - run_started))" >&2
  fi
}

stages=()
for arg in "$@"; do
  case "$arg" in
    -h | --help)
      usage
      exit 0
      ;;
    *)
      if ! declare -F "stage_$arg" >/dev/null; then
        echo "unknown stage: $arg (stages: ${all_stages[*]})" >&2
        exit 2
      fi
      stages+=("$arg")
      ;;
  esac
done
if [ "${#stages[@]}" -eq 0 ]; then
  stages=("${all_stages[@]}")
fi

trap summary EXIT
for name in "${stages[@]}"; do
  current="$name"
  stage_started=$SECONDS
  read_cpu
  stage_cpu=$cpu
  printf '\n\033[1;32m==> %s\033[0m  (%ds so far)\n' "$name" "$((SECONDS - run_started))"
  "stage_$name"
  end_substep
  read_cpu
  printf '\033[1;32m<== %s: %ds (%d CPU s)\033[0m\n' "$name" "$((SECONDS - stage_started))" "$((cpu - stage_cpu))"
  times+=("$name|$((SECONDS - stage_started))|$((cpu - stage_cpu))" "${sub_rows[@]}")
  sub_rows=()
  current=""
done
