#!/usr/bin/env bash
# Installs what Formosa needs on Debian 12 and is not there yet.
#   scripts/install-deps.sh           what building and running need (GDAL, PROJ, a CJK
#                                     font, Node.js for the web viewer's MapLibre)
#   scripts/install-deps.sh --test    and what the test suite's real clients need
#                                     (sqlite3, Chromium, the viewer's npm dev packages;
#                                     pytest, OWSLib, lxml, GDAL's python bindings and
#                                     QGIS for the OGC tests; cargo-fuzz and a C++
#                                     compiler for libFuzzer; PostgreSQL 15 with
#                                     PostGIS and HAProxy for the suite's second pass;
#                                     s3s-fs, an S3-compatible server, for the
#                                     seeded-archive tests; Pillow to shrink and
#                                     check the README's screenshots)
# Needs root or sudo for apt. Idempotent: installs nothing when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

run_apt() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q -o DPkg::Lock::Timeout=300
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q -o DPkg::Lock::Timeout=300 "$@"
}

missing_of() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

packages=(libgdal-dev libsqlite3-dev gdal-bin proj-bin pkg-config fonts-wqy-microhei ca-certificates)
if [ "$want_tests" = 1 ]; then
  packages+=(sqlite3 chromium python3-pytest python3-owslib python3-lxml python3-gdal python3-numpy python3-pil python3-prometheus-client g++ postgresql-15 postgresql-15-postgis-3 postgresql-client-15 haproxy curl)
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=($(missing_of "${packages[@]}"))
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  run_apt "${missing[@]}"
fi

# QGIS for the headless WMTS test, without its recommends (GRASS and friends, ~1 GB).
if [ "$want_tests" = 1 ]; then
  qgis_missing=($(missing_of qgis python3-qgis))
  if [ "${#qgis_missing[@]}" -gt 0 ]; then
    echo "installing: ${qgis_missing[*]} (no recommends)"
    run_apt --no-install-recommends "${qgis_missing[@]}"
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found. Formosa needs Rust ≥ 1.87 (https://rustup.rs: rustup toolchain install stable)." >&2
  exit 1
fi

# cargo-fuzz drives the coverage-guided fuzz targets in fuzz/ (about 30 s to build).
if [ "$want_tests" = 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing: cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

# s3s-fs: a real S3-compatible server for cli/tests/archives.rs (seeded archives served
# from a bucket). 0.14.1 is the last release that builds on Rust 1.92-1.95 (0.15 and later
# need 1.96); about 6.5 minutes to build on 2 cores.
if [ "$want_tests" = 1 ] && ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
  echo "installing: s3s-fs"
  cargo install s3s-fs --version 0.14.1 --features binary --locked --quiet
fi

# The web viewer's packages (MapLibre; with --test also the browser-test tools), from
# package-lock.json so every machine gets the same versions.
if [ "$want_tests" = 1 ]; then
  (cd web-viewer && npm ci --no-audit --no-fund --loglevel=error)
elif [ ! -f web-viewer/node_modules/maplibre-gl/dist/maplibre-gl.mjs ]; then
  (cd web-viewer && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi
