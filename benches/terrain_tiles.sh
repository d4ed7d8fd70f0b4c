#!/usr/bin/env bash
# Uncached terrain tile latency: quantized-mesh and terrain-RGB over the bundled DEM
# (data-fixtures/data/terrain/dem_twd97_20m.tif, pyramid z0–z13), every tile of z8–z15
# that touches the DEM, requested one at a time (wrk -c1) with the tile cache off.
# Goals (issue 5): quantized-mesh p50 ≤ 10 ms, terrain-RGB p50 ≤ 5 ms.
#
#   benches/terrain_tiles.sh
#   DURATION=20 DEM=my_dem.tif benches/terrain_tiles.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
DEM=${DEM:-data-fixtures/data/terrain/dem_twd97_20m.tif}
OUT=${OUT:-benches/out}
PORT=18182
mkdir -p "$OUT/terrain"
command -v wrk >/dev/null || apt-get install -y -q -o DPkg::Lock::Timeout=300 wrk >/dev/null
cargo build --release -q -p formosa-cli
STORE="$OUT/terrain/terrain.gpkg"
rm -f "$STORE"*
target/release/formosa -q --store "$STORE" import terrain "$DEM"
target/release/formosa --store "$STORE" info | tail -1
target/release/formosa -q --store "$STORE" serve --bind 127.0.0.1:$PORT --cache-mb 0 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
curl -s "http://127.0.0.1:$PORT/terrain/layer.json" | python3 -c '
import json, math, sys
lj = json.load(sys.stdin)
w, s, e, n = lj["bounds"]
def tile(lon, lat, z):
    k = 2 ** z
    r = math.radians(lat)
    return int((lon + 180) / 360 * k), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * k)
qm, rgb = [], []
for z in range(8, 16):
    (x0, y0), (x1, y1) = tile(w, n, z), tile(e, s, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            qm.append(f"/terrain/{z}/{x}/{2 ** z - 1 - y}.terrain")
            rgb.append(f"/terrain-rgb/{z}/{x}/{y}.png")
open(sys.argv[1], "w").write("\n".join(qm) + "\n")
open(sys.argv[2], "w").write("\n".join(rgb) + "\n")
print(f"{len(qm)} tiles per format, z8–z15")
' "$OUT/terrain/qm.txt" "$OUT/terrain/rgb.txt"
echo "machine: nproc=$(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t1 -c1 -d${DURATION}s, cache off"
for kind in qm rgb; do
  r=$(wrk -t1 -c1 -d"${DURATION}s" -s benches/lib/walk.lua "http://127.0.0.1:$PORT" -- "$OUT/terrain/$kind.txt" | grep '^WALK')
  read -r _ rps p50 p90 p99 errs nf _ <<<"$r"
  errs=$((errs + nf))  # no terrain tile of the list is missing: a 404 is an error here
  goal=$([ $kind = qm ] && echo 10 || echo 5)
  name=$([ $kind = qm ] && echo quantized-mesh || echo terrain-RGB)
  met=$(python3 -c "print('met' if $p50 <= $goal else 'NOT met')")
  echo "$name: $rps tiles/s, p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, errors $errs (goal p50 ≤ $goal ms: $met)"
done
