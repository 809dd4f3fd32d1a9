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
# Every browser in the tests signs in from 127.0.0.1, the demo staff many
# times over: lift the sign-in and registration limits (their own tests are
# in server/tests/api/sign_in_limits.rs).
export PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE="${PARLEY_SIGNINS_PER_ADDRESS_PER_MINUTE:-100000}"
export PARLEY_SIGNINS_PER_ACCOUNT_PER_HOUR="${PARLEY_SIGNINS_PER_ACCOUNT_PER_HOUR:-100000}"
export PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR="${PARLEY_REGISTRATIONS_PER_ADDRESS_PER_HOUR:-100000}"
"$bin" seed-demo >/dev/null
"$bin" serve --demo
