#!/usr/bin/env bash
# Installs what building and testing Parley needs, skipping whatever is already
# there in the right version. Safe to run again; every step is idempotent.
#
#   - the wasm32-unknown-unknown Rust target
#   - cargo-leptos 0.3.11 and wasm-bindgen-cli 0.2.130 (from crates.io, with the
#     one-line lock fixes described in docs/toolchain.md)
#   - cargo-deny 0.20.2 (scripts/test.sh deny) and leptosfmt 0.1.33 (the view!
#     macro formatter, scripts/test.sh leptosfmt), both from their own locks
#   - npm's binaryen 132 (wasm-opt) under tools/ (Debian's binaryen breaks hydration)
#   - Debian's Chromium (Playwright drives it; no browser download)
#   - the end2end npm packages (npm ci)
#   - Debian's PostgreSQL and Redis servers: the tests of the Postgres store
#     and the Redis event bus start private ones (scripts/services.sh). Only
#     the packages: no server is left running for the tests to depend on.
#     (`--services`, which used to ask for them, is still accepted and does
#     nothing more.)
#   - Debian's nginx: the `e2e-instances` stage runs a private one in front of
#     two instances (scripts/e2e-instances.sh). Only the package: if its
#     postinst started the system nginx (port 80, where systemd runs it), that
#     one is stopped and disabled again, since nothing uses it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION=0.3.11
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132.0.0
CARGO_DENY_VERSION=0.20.2
LEPTOSFMT_VERSION=0.1.33

# Tools are built once per machine and only run on our small inputs: build
# them without link-time optimisation, across 16 codegen units (their own
# release profiles ask for fat LTO and one unit, which is most of the build
# time on two cores). Overrides their profile, not their code.
export CARGO_PROFILE_RELEASE_LTO=off
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

log() { printf '\033[1;34m[install]\033[0m %s\n' "$*"; }

for arg in "$@"; do
  case "$arg" in
    # Kept so that older commands still work: the servers are always installed now.
    --services) ;;
    *)
      echo "unknown option: $arg" >&2
      exit 2
      ;;
  esac
done

apt_install() {
  local sudo="" log
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log="$(mktemp -t parley-apt-XXXXXX.log)"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "apt-get install $* failed (full log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
}

# Puts the source of a crates.io crate into the local registry cache and prints its path.
crate_source() {
  local name="$1" version="$2" scratch
  local found
  found=$(ls -d "$HOME"/.cargo/registry/src/*/"$name-$version" 2>/dev/null | head -n1 || true)
  if [ -z "$found" ]; then
    scratch=$(mktemp -d)
    mkdir -p "$scratch/src"
    printf '[package]\nname = "fetch-only"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
      "$name" "$version" >"$scratch/Cargo.toml"
    : >"$scratch/src/lib.rs"
    # Resolution may fail on lock-only problems; the download is all we want.
    (cd "$scratch" && cargo fetch -q >/dev/null 2>&1) || true
    rm -rf "$scratch"
    found=$(ls -d "$HOME"/.cargo/registry/src/*/"$name-$version" 2>/dev/null | head -n1 || true)
  fi
  if [ -z "$found" ]; then
    echo "could not fetch the source of $name $version from crates.io" >&2
    exit 1
  fi
  printf '%s\n' "$found"
}

# Installs a crate from its published lock file after pinning one dependency.
install_pinned() {
  local name="$1" version="$2" pin_pkg="$3" pin_version="$4"
  shift 4
  local src work
  src=$(crate_source "$name" "$version")
  work=$(mktemp -d)
  cp -r "$src" "$work/src"
  (cd "$work/src" && cargo update -q -p "$pin_pkg" --precise "$pin_version" && cargo install -q --path . --locked "$@")
  rm -rf "$work"
}

# 1. Rust target for the browser half.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli, exactly the version pinned in Cargo.toml.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes)"
  # Its lock pins webpki-roots 1.0.11, which the registry here does not serve.
  install_pinned wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
fi

# 3. cargo-leptos.
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (10-18 minutes, once per machine)"
  # Its lock pins cargo-util-schemas 0.14.2, which needs rustc 1.96.
  install_pinned cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1 --features no_downloads
fi

# 4. cargo-deny and leptosfmt: their published locks build with our rustc as they are.
if [ "$(cargo deny --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]; then
  log "installing cargo-deny $CARGO_DENY_VERSION (about 4 minutes)"
  cargo install -q --locked "cargo-deny@$CARGO_DENY_VERSION"
fi
if [ "$(leptosfmt --version 2>/dev/null | awk '{print $2}')" != "$LEPTOSFMT_VERSION" ]; then
  log "installing leptosfmt $LEPTOSFMT_VERSION (about 2 minutes)"
  cargo install -q --locked "leptosfmt@$LEPTOSFMT_VERSION"
fi

# 5. wasm-opt from npm's binaryen, kept inside the project.
if [ "$("$root/tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
  log "installing binaryen $BINARYEN_VERSION (wasm-opt) into tools/"
  npm install --silent --no-audit --no-fund --prefix "$root/tools" "binaryen@$BINARYEN_VERSION"
fi

# 6. Chromium from Debian.
if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium (about 1 minute)"
  apt_install chromium
fi

# 7. Playwright and friends for end2end/.
if [ -f "$root/end2end/package-lock.json" ]; then
  if [ ! -d "$root/end2end/node_modules/@playwright/test" ] ||
     ! cmp -s "$root/end2end/package-lock.json" "$root/end2end/node_modules/.package-lock.json.installed"; then
    log "installing end2end npm packages"
    (cd "$root/end2end" && npm ci --silent --no-audit --no-fund)
    cp "$root/end2end/package-lock.json" "$root/end2end/node_modules/.package-lock.json.installed"
  fi
fi

# 8. Database and pub/sub servers for the backend test matrix (started by
# scripts/services.sh on a private folder and port, never as a system service).
if ! command -v redis-server >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
   ! command -v psql >/dev/null 2>&1; then
  log "installing Debian's postgresql and redis-server"
  apt_install postgresql redis-server
fi

# 9. nginx for the two-instance browser tests (scripts/e2e-instances.sh runs
# its own, in the foreground, on a private folder and port). Debian's plain
# `nginx` package has everything deploy/nginx/parley.conf uses (map,
# upstream keepalive, proxy_pass, the WebSocket upgrade); nginx-light is only
# nginx plus the echo module on bookworm.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  log "installing Debian's nginx"
  apt_install nginx
  # The package's postinst starts the system service where it may (systemd,
  # no policy-rc.d refusing it): it would hold port 80 for nothing.
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    log "stopping and disabling the system nginx the package started (the tests run their own)"
    $sudo_cmd systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [ -s /run/nginx.pid ] && $sudo_cmd kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    log "stopping the system nginx the package started (the tests run their own)"
    $sudo_cmd /etc/init.d/nginx stop >/dev/null 2>&1 || true
  fi
fi

log "tools ready"
