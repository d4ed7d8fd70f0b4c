#!/usr/bin/env bash
# Quick start: install what is missing, build, import the bundled fixtures into
# data/demo.gpkg (first run only) and serve everything on http://127.0.0.1:8080/.
# Extra arguments go to `formosa demo` (e.g. --bind 0.0.0.0:8080, --fresh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p formosa-cli
exec target/release/formosa --store data/demo.gpkg demo "$@"
