#!/usr/bin/env bash
# Every 3D tile of the generated 200,000-building set (and its 100,000 pipelines), made
# once on all cores the way the server makes them. Goal (issue 5): ≥ 20,000 buildings/s.
# The bundled DEM is imported too, so buildings and pipes in its area sample the terrain
# (the rest stand at sea level: the DEM covers the fixture city, not the whole set).
#
#   benches/tiles3d_buildings.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILDINGS=${BUILDINGS:-200000}
PIPELINES=${PIPELINES:-100000}
OUT=${OUT:-benches/out}
DATA="$OUT/large-3d-$BUILDINGS"
STORE="$OUT/tiles3d/store-$BUILDINGS.gpkg"
mkdir -p "$OUT/tiles3d"
cargo build --release -q -p formosa-cli -p formosa-fixtures
if [ ! -f "$DATA/buildings.shp" ]; then
  target/release/formosa-fixtures large --parcels 0 --buildings "$BUILDINGS" --pipelines "$PIPELINES" --out "$DATA"
fi
if [ ! -f "$STORE" ]; then
  target/release/formosa -q --store "$STORE" import buildings "$DATA/buildings.shp"
  target/release/formosa -q --store "$STORE" import pipelines "$DATA/pipelines.gpkg"
  target/release/formosa -q --store "$STORE" import terrain data-fixtures/data/terrain/dem_twd97_20m.tif
fi
echo "machine: nproc=$(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
for layer in buildings pipelines; do
  FORMOSA_BENCH_STORE="$(realpath "$STORE")" FORMOSA_BENCH_LAYER=$layer cargo bench -q -p formosa-benches --bench tiles3d_all
done
