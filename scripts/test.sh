#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests (which drive the real `formosa`
# binary and check its output with GDAL's own tools). This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
cargo test --workspace --no-fail-fast
