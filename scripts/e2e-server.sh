#!/usr/bin/env bash
# Starts the built Parley for the browser tests: a fresh SQLite file in a
# temp folder, the demo accounts, the site built by cargo-leptos, and a short
# presence grace period. Playwright runs this (see end2end/playwright.config.ts).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${PARLEY_BIN:-$root/target/debug/parley}"
dir="$(mktemp -d -t parley-e2e-XXXXXX)"
trap 'rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/e2e.db"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$root/target/site}"
export LEPTOS_SITE_ADDR="127.0.0.1:${PARLEY_E2E_PORT:-3100}"
# Playwright talks to 127.0.0.1: serve this machine only (also what a
# release binary needs without a public URL).
export PARLEY_LOCAL_ONLY=true
export PARLEY_PRESENCE_GRACE_SECS="${PARLEY_PRESENCE_GRACE_SECS:-3}"
export RUST_LOG="${RUST_LOG:-warn,server=info}"
"$bin" seed-demo >/dev/null
"$bin" serve --demo
