#!/usr/bin/env bash
# Side by side, in one run: Formosa's cadastral import vs `ogr2ogr -f GPKG` on the same
# generated shapefile (EPSG:3826, cp950 DBF). Both reproject to EPSG:4326 and build an
# R*Tree spatial index. Rounds alternate (ogr2ogr, Formosa, ogr2ogr, Formosa …) so machine
# noise hits both. Then: time to open the store with every index ready (`formosa info`).
#
#   benches/import_vs_ogr2ogr.sh               # 1,000,000 parcels, 2 rounds
#   PARCELS=200000 ROUNDS=3 benches/import_vs_ogr2ogr.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PARCELS=${PARCELS:-1000000}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-benches/out}
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { apt-get install -y -q -o DPkg::Lock::Timeout=300 time >/dev/null; }
cargo build --release -q -p formosa-cli -p formosa-fixtures
DATA="$OUT/large-$PARCELS"
SHP="$DATA/parcels.shp"
if [ ! -f "$SHP" ]; then
  echo "generating $PARCELS parcels into $DATA …"
  target/release/formosa-fixtures large --parcels "$PARCELS" --buildings 0 --pipelines 0 --out "$DATA"
fi
ls -l "$DATA"/parcels.*
echo "machine: nproc=$(nproc), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
measure() { # label, command… → prints "label seconds maxrss_kb"
  local label=$1; shift
  local tf; tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%e %M" "$@" >/dev/null 2>&1
  echo "$label $(tail -1 "$tf")"
}
results=$(mktemp)
for r in $(seq "$ROUNDS"); do
  rm -f "$OUT/ogr.gpkg"*
  measure ogr2ogr ogr2ogr -f GPKG -t_srs EPSG:4326 "$OUT/ogr.gpkg" "$SHP" | tee -a "$results"
  rm -f "$OUT/formosa.gpkg"*
  measure formosa target/release/formosa -q --store "$OUT/formosa.gpkg" import cadastral "$SHP" | tee -a "$results"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
ogrinfo -so "$OUT/ogr.gpkg" parcels | grep -E "Feature Count"
target/release/formosa --store "$OUT/formosa.gpkg" info | sed -n 1,3p
for i in 1 2 3; do
  measure open target/release/formosa -q --store "$OUT/formosa.gpkg" info | tee -a "$results"
done
python3 - "$results" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for label, secs, rss in rows:
    by.setdefault(label, []).append((float(secs), int(rss)))
def med(label, i): return statistics.median(v[i] for v in by[label])
o, f = med("ogr2ogr", 0), med("formosa", 0)
print(f"ogr2ogr  median {o:.2f} s  peak RSS {max(v[1] for v in by['ogr2ogr'])/1024:.0f} MiB  runs {[v[0] for v in by['ogr2ogr']]}")
print(f"formosa  median {f:.2f} s  peak RSS {max(v[1] for v in by['formosa'])/1024:.0f} MiB  runs {[v[0] for v in by['formosa']]}")
print(f"ratio formosa/ogr2ogr wall time = {f/o:.2f}  (goal ≤ 1.0)")
print(f"open store with index ready: median {med('open', 0):.2f} s, RSS {max(v[1] for v in by['open'])/1024:.0f} MiB  (goal ≤ 2 s)")
PY
