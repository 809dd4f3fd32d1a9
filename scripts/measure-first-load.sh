#!/usr/bin/env bash
# Measures a first visit on a slow phone (docs/performance.md, "First page
# load"): builds the release site as deployed (`cargo leptos build --release
# --precompress --split`, which replaces target/site with the release one), starts
# the release server on a fresh database, and loads /login and /register in
# Debian's Chromium with DevTools' "Fast 3G" network and a 4x slower CPU,
# three times each with a cold cache. Prints bytes on the wire per kind and
# the median time to interactive (hydrated). A measurement, not a test.
#
#   scripts/measure-first-load.sh            (PARLEY_MEASURE_RUNS=N for N runs a page)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/tools/node_modules/.bin:$PATH"
cargo leptos build --release --precompress --split
cd end2end
PARLEY_BIN="$root/target/release/parley" PARLEY_E2E_PORT="${PARLEY_E2E_PORT:-3190}" \
  npx playwright test --config playwright.measure.config.ts
