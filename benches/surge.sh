#!/usr/bin/env bash
# Surge: a disaster day's mix of real map clients on loopback, open loop, bounded in time,
# at RATES multiples of a base rate (DURATION seconds each, after WARMUP seconds at
# WARMUP_RATE, by default the highest of RATES, so the tile cache is full before RSS is read),
# against 1 M parcels + 200 k buildings + 100 k pipelines (`formosa-fixtures large`, the
# same data as benches/soak.sh) plus the bundled DEM (信義區), tile cache on. The load
# generator is benches/src/bin/surge.rs (tokio + reqwest); what each client asks:
#
#   maplibre  MapLibre GL JS: style, TileJSON, glyphs 0-255, then 4–7 pans/zooms of 12–20
#             vector tiles (/tiles/basemap, z12–z16), gzip                  1    session/s
#   qgis      QGIS, EPSG:3826 project: WMTS KVP GetTile in the TWD97 set, 4 × 3 tiles at
#             1:25 000…1:1 000, 3–6 pans/zooms                               0.25 session/s
#   wms       desktop GetMap, 1024² / 2048² / 4096² (70/22/8 %), EPSG:3826 or 3857 0.2 /s
#   cesium    CesiumJS: layer.json, tileset.json, quantized-mesh (octvertexnormals) and
#             3D Tiles content (buildings, pipelines), 3–4 camera moves       0.1  session/s
#   click     WMS 1.3.0 GetFeatureInfo, application/json                     1    /s
#   incident  POST /ogcapi/collections/incidents/items (Bearer token)        0.5  /s
#   + SUBSCRIBERS clients on /changes/stream for the whole run.
#
# At 1× that is about 80 vector tiles, 15 WMTS tiles, a few terrain and 3D tiles, one map
# every 5 s and 2.5 small requests a second: a quiet working day on 2 cores (see
# docs/ARCHITECTURE.md, "Surge"); 10× is the disaster day. SURGE_ARGS="--base KIND=RATE"
# changes a base rate; FORMOSA_CONFIG=FILE serves with that formosa.toml (limits such as
# max_queue_wait_ms).
#
# Goals (issue 16), for RATES=10 DURATION=300: 0 errors other than 429/503 with
# Retry-After, tile p99 ≤ 50 ms, WMS p99 per size class reported, RSS growth ≤ 10 % after
# the warm-up (the tile cache's own filling is printed next to it), every acknowledged
# write present. Latency is from each request's scheduled
# start (no coordinated omission), answered requests only; errors and shed requests are
# counted apart.
#
#   benches/surge.sh                                  # 1×, 3×, 10×, 60 s each
#   RATES=10 DURATION=300 benches/surge.sh            # the issue's goal run
#   RATES="1 3" DURATION=20 PARCELS=200000 BUILDINGS=40000 PIPELINES=20000 benches/surge.sh
#
# Writes $OUT/summary.json, $OUT/classes.tsv, $OUT/surge.log and, if the server answers
# /metrics, $OUT/metrics.txt. Data is generated and imported once, cached under $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-"1 3 10"}
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-20}
PARCELS=${PARCELS:-1000000}
BUILDINGS=${BUILDINGS:-200000}
PIPELINES=${PIPELINES:-100000}
SUBSCRIBERS=${SUBSCRIBERS:-8}
CACHE_MB=${CACHE_MB:-512}
PORT=${PORT:-18190}
OUT=${OUT:-benches/out/surge}
DEM=data-fixtures/data/terrain/dem_twd97_20m.tif
export FORMOSA_WRITE_TOKEN=surge-token
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
. benches/lib/large_data.sh
large_data_tools gdal-bin curl python3

cargo build --release -q -p formosa-cli -p formosa-fixtures -p formosa-benches --bins
SURGE=${CARGO_TARGET_DIR:-target}/release/surge

# --- data: the large layers (benches/lib/large_data.sh) and the DEM, once -------------
large_data_store
BASE="$OUT/base-$PARCELS-$BUILDINGS-$PIPELINES.gpkg"
if [ ! -f "$BASE" ]; then
  copy_store "$STORE" "$BASE.part"
  $FORMOSA -q --store "$BASE.part" import terrain "$DEM"
  copy_store "$BASE.part" "$BASE"
  rm -f "$BASE.part" "$BASE.part-wal" "$BASE.part-shm"
fi
RUN="$OUT/run.gpkg"
copy_store "$BASE" "$RUN"   # a fresh copy: no incidents before the run

# Where the clients look: parcel centres over the whole set, in lon/lat and TWD97.
if [ ! -f "$OUT/places-$PARCELS.txt" ]; then
  python3 benches/lib/tile_lists.py places "$STORE" "$OUT"
  gdaltransform -s_srs EPSG:4326 -t_srs EPSG:3826 -output_xy < "$OUT/places.txt" > "$OUT/places-twd97.txt"
  paste -d' ' "$OUT/places.txt" "$OUT/places-twd97.txt" > "$OUT/places-$PARCELS.txt"
fi

# --- serve, surge, check --------------------------------------------------------------
formosa_serve "$PORT" "$CACHE_MB" "$RUN"
echo "server pid $server_pid on 127.0.0.1:$PORT, store $RUN ($(du -h "$RUN" | cut -f1)), cache $CACHE_MB MiB"
# SURGE_ARGS is split on purpose: extra generator flags such as --base maplibre=2.
# shellcheck disable=SC2086
"$SURGE" --url "http://127.0.0.1:$PORT" --token "$FORMOSA_WRITE_TOKEN" --places "$OUT/places-$PARCELS.txt" \
  --rates "${RATES// /,}" --duration "$DURATION" --warmup "$WARMUP" ${WARMUP_RATE:+--warmup-rate "$WARMUP_RATE"} --subscribers "$SUBSCRIBERS" \
  --server-pid "$server_pid" --out "$OUT" ${SURGE_ARGS:-} | tee "$OUT/surge.log"
# /metrics is optional (not every build has it): keep it when it answers.
if curl -sf -o "$OUT/metrics.txt" "http://127.0.0.1:$PORT/metrics"; then echo "metrics: $OUT/metrics.txt"; else rm -f "$OUT/metrics.txt"; fi
stop_server
