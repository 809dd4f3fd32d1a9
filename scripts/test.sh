#!/usr/bin/env bash
# Runs every test Parley has, on a fresh machine too: installs what is missing
# (scripts/install-tools.sh), then formatting, lints for the server and the
# browser builds, Rust unit and integration tests (real server, real SQLite,
# real WebSockets), the build with cargo-leptos, and the browser tests
# (Playwright driving Debian's Chromium). Stops at the first failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Incremental caches only cost disk (gigabytes) on a run that builds once.
export CARGO_INCREMENTAL=0

started=$SECONDS
step() {
  printf '\n\033[1;32m==> %s\033[0m  (%ds so far)\n' "$*" "$((SECONDS - started))"
}

step "installing what is missing"
"$root/scripts/install-tools.sh"
export PATH="$root/tools/node_modules/.bin:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy, server build (ssr)"
cargo clippy -p parley -p backend -p app -p server -p loadgen --all-targets -- -D warnings

step "clippy, browser build (hydrate, wasm32)"
cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

step "Rust unit and integration tests"
cargo test -p parley -p backend -p app -p server -p loadgen

step "load generator smoke (a few seconds of real load: 0 lost, 0 duplicated)"
"$root/scripts/loadgen-smoke.sh"

step "cargo leptos build"
cargo leptos build

step "browser tests (Playwright, Debian Chromium)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd end2end && PARLEY_E2E_PORT="$port" npx playwright test)

step "all tests passed in $((SECONDS - started))s"
