#!/usr/bin/env bash
# The README's screenshots (docs/images/), made from the demo store, so that they can be
# made again whenever the map changes:
#   viewer-2d.png              the 2D base map over 信義區 (MapLibre in headless Chromium)
#   viewer-25d.png             the 2.5D view: buildings extruded on the terrain
#   viewer-3d-underground.png  the 3D page (CesiumJS) in underground mode: pipes under the street
#   wms-getmap.png             a WMS 1.3.0 GetMap of the base map
#   qgis-wmts-twd97.png        QGIS (offscreen) showing the WMTS in the TWD97 matrix set
#
#   bash scripts/screenshots.sh              refresh docs/images/ (then commit them)
#   bash scripts/screenshots.sh OUT_DIR      write them elsewhere (the test suite: a temp dir)
#
# Starts its own `formosa demo` on a free port over a fresh store (target/debug/formosa, or
# FORMOSA_BIN), drives Debian's Chromium with playwright-core (web-viewer/screenshots.mjs)
# and QGIS with QT_QPA_PLATFORM=offscreen, then makes each picture a palette PNG of at most
# 300 KB (Pillow) and fails unless every one exists, is that small and is not blank.
# Needs what `scripts/install-deps.sh --test` installs.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/images}"
export FORMOSA_BIN="${FORMOSA_BIN:-$PWD/target/debug/formosa}"
if [ ! -x "$FORMOSA_BIN" ]; then
  cargo build -p formosa-cli
fi
raw="$(mktemp -d)"
trap 'rm -rf "$raw"' EXIT
node web-viewer/screenshots.mjs "$raw"
mkdir -p "$out"
/usr/bin/python3 - "$raw" "$out" <<'EOF'
"""Each full-size screenshot → a palette PNG ≤ 300 KB in OUT; fails on a missing, blank
or oversized picture (and on a QGIS map that is mostly its no-tile magenta)."""
import sys
from pathlib import Path

from PIL import Image, ImageStat

LIMIT = 300 * 1024
NAMES = ["viewer-2d.png", "viewer-25d.png", "viewer-3d-underground.png", "wms-getmap.png", "qgis-wmts-twd97.png"]
raw, out = Path(sys.argv[1]), Path(sys.argv[2])
failures = []
for name in NAMES:
    src = raw / name
    if not src.is_file():
        failures.append(f"{name}: not made")
        continue
    image = Image.open(src).convert("RGB")
    if name.startswith("qgis"):
        magenta = sum(1 for p in image.getdata() if p == (255, 0, 255)) / (image.width * image.height)
        if magenta > 0.01:
            failures.append(f"{name}: {magenta:.0%} of QGIS's map got no tile")
    dst = out / name
    width = image.width
    while True:
        small = image if width == image.width else image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        small.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dst, optimize=True)
        if dst.stat().st_size <= LIMIT or width < 400:
            break
        width = int(width * 0.85)
    size = dst.stat().st_size
    spread = max(ImageStat.Stat(Image.open(dst).convert("L")).stddev)
    print(f"{dst}: {Image.open(dst).width}×{Image.open(dst).height}, {size / 1024:.0f} KB, grey-level spread {spread:.1f}")
    if size > LIMIT:
        failures.append(f"{name}: {size} bytes, over {LIMIT}")
    if spread < 8:
        failures.append(f"{name}: blank (grey-level standard deviation {spread:.1f})")
if failures:
    print("screenshots: " + "; ".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"screenshots: {len(NAMES)} pictures in {out}")
EOF
