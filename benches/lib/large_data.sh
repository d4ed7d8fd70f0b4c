# shellcheck shell=bash
# Shared by the benches over the large generated data set (benches/mvt_vs_martin.sh,
# benches/wms_vs_mapserver.sh, benches/soak.sh, benches/surge.sh). Source it from the
# repository root after setting PARCELS, BUILDINGS, OUT (an absolute path) and, for a
# store with pipelines, PIPELINES (default 0); it defines PG, PG_URL, FORMOSA and
# FIXTURES (release binaries under CARGO_TARGET_DIR, default target/) and these functions:
#
#   large_data_tools PKG…     apt-get install the Debian packages that are missing
#   large_data_store          generate the parcels, buildings (and pipelines) once (DATA),
#                             import them once into one Formosa store
#                             (STORE=$OUT/large-P-B.gpkg, or large-P-B-PIPES.gpkg)
#   large_data_postgis        load the store's rows into PostGIS (GiST index, VACUUM ANALYZE)
#                             unless they are there already; prints the row counts
#   formosa_serve PORT MB [STORE]  start `formosa serve` on the store (or STORE, e.g. a
#                             postgresql:// URL) with MB MiB of tile cache, wait for
#                             /health and for the feature layers to be in memory;
#                             FORMOSA_CONFIG=FILE serves with that formosa.toml
#   stop_server               stop the server that formosa_serve (or the caller) put in
#                             server_pid; installed as the EXIT trap
#   wait_up URL               wait until URL answers 200 (30 s at most)
#
# PostGIS gets exactly the rows Formosa serves: ogr2ogr copies the two layers out of the
# Formosa store (EPSG:4326, typed columns, no source_attributes), with a GiST index
# (ogr2ogr's default), then VACUUM ANALYZE.

PG="host=127.0.0.1 port=5432 user=formosa_bench password=formosa_bench dbname=formosa_bench"
PG_URL="postgresql://formosa_bench:formosa_bench@127.0.0.1:5432/formosa_bench"
FORMOSA=${FORMOSA_BIN:-${CARGO_TARGET_DIR:-target}/release/formosa}   # FORMOSA_BIN: another build, for A/B runs
FIXTURES=${CARGO_TARGET_DIR:-target}/release/formosa-fixtures
PIPELINES=${PIPELINES:-0}

large_data_tools() {
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} …"
    apt-get install -y -q -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  fi
}

large_data_store() {
  local set="$PARCELS-$BUILDINGS"
  if [ "$PIPELINES" -gt 0 ]; then set="$set-$PIPELINES"; fi
  DATA="$OUT/large-$set"
  STORE="$OUT/large-$set.gpkg"
  # The store used to live under mvt/ when only mvt_vs_martin.sh used it.
  local old="$OUT/mvt/formosa-$PARCELS-$BUILDINGS.gpkg"
  if [ "$PIPELINES" -eq 0 ] && [ ! -f "$STORE" ] && [ -f "$old" ]; then
    local ext
    for ext in "" -wal -shm; do
      if [ -f "$old$ext" ]; then mv "$old$ext" "$STORE$ext"; fi
    done
  fi
  if [ ! -f "$DATA/parcels.shp" ]; then
    echo "generating $PARCELS parcels, $BUILDINGS buildings and $PIPELINES pipelines into $DATA …"
    $FIXTURES large --parcels "$PARCELS" --buildings "$BUILDINGS" --pipelines "$PIPELINES" --out "$DATA"
  fi
  if [ ! -f "$STORE" ]; then
    $FORMOSA -q --store "$STORE" import cadastral "$DATA/parcels.shp"
    $FORMOSA -q --store "$STORE" import buildings "$DATA/buildings.shp"
    if [ "$PIPELINES" -gt 0 ]; then $FORMOSA -q --store "$STORE" import pipelines "$DATA/pipelines.gpkg"; fi
  fi
}

# copy_store SRC DST: a fresh copy of a store (its WAL too, if one was left).
copy_store() {
  local ext
  rm -f "$2" "$2-wal" "$2-shm"
  for ext in "" -wal; do
    if [ -f "$1$ext" ]; then cp "$1$ext" "$2$ext"; fi
  done
}

large_data_postgis() {
  pg_ctlcluster 15 main start 2>/dev/null || true
  psql_admin() { su postgres -c "psql -q -v ON_ERROR_STOP=1 $*"; }
  if ! psql "$PG_URL" -Atc "SELECT count(*) FROM cadastral" 2>/dev/null | grep -qx "$PARCELS"; then
    echo "loading the store's rows into PostGIS …"
    psql_admin "-c \"DROP DATABASE IF EXISTS formosa_bench\"" </dev/null
    psql_admin "-c \"DROP ROLE IF EXISTS formosa_bench\"" </dev/null
    psql_admin "-c \"CREATE ROLE formosa_bench LOGIN PASSWORD 'formosa_bench'\"" </dev/null
    psql_admin "-c \"CREATE DATABASE formosa_bench OWNER formosa_bench\"" </dev/null
    psql_admin "-d formosa_bench -c \"CREATE EXTENSION postgis\"" </dev/null
    ogr2ogr -f PostgreSQL "PG:$PG" "$STORE" cadastral -nln cadastral -lco GEOMETRY_NAME=geom -lco FID=fid \
      -select parcel_no,section,county_code,town_code,land_use,area_m2
    ogr2ogr -f PostgreSQL "PG:$PG" "$STORE" buildings -nln buildings -lco GEOMETRY_NAME=geom -lco FID=fid \
      -select height_m,floors,use,structure,name
    psql "$PG_URL" -q -c "VACUUM ANALYZE cadastral" -c "VACUUM ANALYZE buildings"
  fi
  psql "$PG_URL" -Atc "SELECT 'postgis rows: cadastral ' || (SELECT count(*) FROM cadastral) || ', buildings ' || (SELECT count(*) FROM buildings) || '; GiST: ' || (SELECT string_agg(indexname, ' ') FROM pg_indexes WHERE indexdef LIKE '%gist%')"
}

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT
wait_up() { for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "server did not start: $1" >&2; exit 1; }

formosa_serve() { # port cache_mb [store]
  stop_server
  $FORMOSA -q ${FORMOSA_CONFIG:+--config "$FORMOSA_CONFIG"} --store "${3:-$STORE}" serve --bind "127.0.0.1:$1" --cache-mb "$2" & server_pid=$!
  wait_up "http://127.0.0.1:$1/health"
  # Measure the steady state: wait for the feature layers to be read into memory.
  for _ in $(seq 600); do
    curl -s "http://127.0.0.1:$1/health" | python3 -c 'import json,sys; h=json.load(sys.stdin); sys.exit(h["feature_layers_in_memory"] != h["feature_layers"])' && break
    sleep 0.1
  done
}
