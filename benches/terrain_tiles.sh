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
cargo build --release -q -p formosa-tile-server
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
cat > "$OUT/terrain/list.lua" <<'LUA'
local paths, idx = {}, 0
function init(args) for line in io.lines(args[1]) do paths[#paths + 1] = line end end
function request() idx = idx % #paths + 1; return wrk.format("GET", paths[idx], { ["Accept-Encoding"] = "gzip", ["Accept"] = args_accept }) end
function done(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.2f %.2f %.2f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
LUA
echo "machine: nproc=$(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t1 -c1 -d${DURATION}s, cache off"
for kind in qm rgb; do
  r=$(wrk -t1 -c1 -d"${DURATION}s" -s "$OUT/terrain/list.lua" "http://127.0.0.1:$PORT" -- "$OUT/terrain/$kind.txt" | grep '^RESULT')
  read -r _ rps p50 p90 p99 errs <<<"$r"
  goal=$([ $kind = qm ] && echo 10 || echo 5)
  name=$([ $kind = qm ] && echo quantized-mesh || echo terrain-RGB)
  met=$(python3 -c "print('met' if $p50 <= $goal else 'NOT met')")
  echo "$name: $rps tiles/s, p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, errors $errs (goal p50 ≤ $goal ms: $met)"
done
