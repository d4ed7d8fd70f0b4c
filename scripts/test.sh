#!/usr/bin/env bash
# The whole test suite. This is what CI runs.
#  0. `cargo fmt --check` (rustfmt.toml) and `cargo clippy -D warnings` on the workspace.
#  1. Rust unit and integration tests: they drive the real `formosa` binary and check
#     what it wrote with GDAL's own tools (ogrinfo, gdalinfo, gdallocationinfo), and serve
#     seeded archives from a real S3-compatible server (s3s-fs; FORMOSA_REQUIRE_S3=1).
#  2. The OGC services (WMS 1.3.0, WMTS 1.0.0) through real clients — GDAL's drivers,
#     OWSLib, headless QGIS — with the official XSDs: pytest in tile-server/tests/ogc, on
#     Debian's python (/usr/bin/python3: the apt packages, not a pyenv shim).
#  3. Node tests in web-viewer/tests: tiles decoded with @mapbox/vector-tile, the style
#     validated with MapLibre's style spec, the viewer in headless Chromium. Then the
#     README's screenshots made again (scripts/screenshots.sh, into a temp dir) and checked.
#     README.md and docs/*.md are parsed as Markdown in step 1 (cli/tests/docs.rs).
#  4. The cargo-fuzz targets in fuzz/, each for FORMOSA_FUZZ_SECONDS (default 30) from
#     the seeds in fuzz/seeds: whole requests through the router, the request parsers,
#     the importers' attribute handling. A crash is kept in fuzz/artifacts/.
#  5. The HTTP suites again (Rust integration tests that serve, the OGC pytest, the node
#     tests) with the server on PostGIS, same assertions: scripts/postgis.sh starts a
#     throwaway PostgreSQL cluster on 127.0.0.1:25432 and FORMOSA_TEST_POSTGIS points the
#     tests' store helpers at it (one fresh database per store). The PostGIS-only tests
#     (publish round trip, refused imports, a database restart, two nodes) run there too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
status=0
failed=()
# Runs one step; a failure is kept (the suite goes on) and named again at the end, so a
# red run says which step to read without scrolling through the whole log.
step() {
  local name="$1"
  shift
  "$@" || { status=$?; failed+=("$name (exit $status)"); }
}
# Formatting and lints first: cheap, and a failure says exactly what to fix.
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets --quiet -- -D warnings
# The S3 test of seeded archives runs against a real s3s-fs (install-deps.sh installs it):
# here its absence is a failure, not a skip.
step "cargo test" env FORMOSA_REQUIRE_S3=1 cargo test --workspace --no-fail-fast
cargo build -p formosa-cli
step "pytest (OGC clients)" /usr/bin/python3 -m pytest -q tile-server/tests/ogc
step "node tests (web-viewer)" bash -c 'cd web-viewer && node --test --test-concurrency=1 tests/'
# The README's screenshots made again from the demo store, into a temp dir: each must
# exist, be a PNG of at most 300 KB and not be blank (scripts/screenshots.sh).
shots="$(mktemp -d)"
step "screenshots" bash scripts/screenshots.sh "$shots"
rm -rf "$shots"
for target in ogc_parsers import_attributes http_requests; do
  mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
  step "fuzz $target" cargo fuzz run --sanitizer none "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="${FORMOSA_FUZZ_SECONDS:-30}" -print_final_stats=0
done
# 5. On PostGIS. FORMOSA_REQUIRE_POSTGIS makes a missing server a failure, not a skip.
pg_url="$(bash scripts/postgis.sh start main 25432)" || { status=$?; failed+=("postgis.sh start (exit $status)"); }
if [ -n "${pg_url:-}" ]; then
  (
    export FORMOSA_TEST_POSTGIS="${pg_url%/postgres}" FORMOSA_REQUIRE_POSTGIS=1
    psql -q -X "$pg_url" -c "DROP DATABASE IF EXISTS formosa_template" >/dev/null
    rc=0
    FORMOSA_REQUIRE_S3=1 cargo test -p formosa-cli --no-fail-fast --test postgis --test serve --test hot_reimport --test import_progress --test limits --test static_paths --test fuzz_requests --test archives --test lifecycle || { rc=$?; echo "FAILED on PostGIS: cargo test (exit $rc)"; }
    /usr/bin/python3 -m pytest -q tile-server/tests/ogc || { rc=$?; echo "FAILED on PostGIS: pytest (exit $rc)"; }
    (cd web-viewer && node --test --test-concurrency=1 tests/) || { rc=$?; echo "FAILED on PostGIS: node tests (exit $rc)"; }
    exit $rc
  ) || { status=$?; failed+=("the PostGIS re-run (exit $status; its FAILED line above says which suite)"); }
  bash scripts/postgis.sh stop main 25432
fi
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
fi
exit $status
