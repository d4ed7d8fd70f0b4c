#!/usr/bin/env bash
# Side by side, in one run: Formosa's vector tiles vs Martin 1.14 over PostGIS, on the
# same rows, the same tile list, the same client (wrk, loopback), the same concurrency and
# the same compression (gzip). Two data sets:
# - the parcel/building mix: 1 M generated parcels + 200 k buildings, Formosa's composite
#   /tiles/basemap against Martin's composite source, z12–z16 (z16 with the parcels'
#   label points) and z15;
# - island-wide villages: ~7,700 village-like polygons over all of Taiwan
#   (`formosa-fixtures villages`, median ~21 vertices), random tiles z12–z16 anywhere on
#   the island: many small tiles, where the fixed cost of making one tile dominates.
# And the warm path against its physical limit: `bare_tiles` (benches/src/bin), a bare
# axum handler answering the bytes and headers Formosa's cache answered, nothing else.
#
#   benches/mvt_vs_martin.sh                        # defaults below
#   DURATION=30 CONNS=32 ROUNDS=3 benches/mvt_vs_martin.sh
#
# Fairness (../shared/DESIGN.md, "Fair side-by-side benchmarks"):
# - PostGIS gets exactly the rows Formosa serves: ogr2ogr copies the two layers out of the
#   Formosa store (EPSG:4326, typed columns, no source_attributes), then a GiST index
#   (ogr2ogr's default) and VACUUM ANALYZE.
# - Martin serves them as table sources with the same MVT layer names, extent 4096,
#   buffer 128, clipping on, and the same minzoom per layer (parcels 14, buildings 13), as
#   one composite source `cadastral,buildings`, which matches Formosa's /tiles/basemap.
#   What differs: below z15 Formosa leaves out sub-pixel features and simplifies to a
#   quarter pixel; Martin sends every row. The script prints both sides' bytes per tile.
# - Uncached: Formosa --cache-mb 0, Martin `cache: disable`. Warm: both 512 MiB of tile
#   cache, every tile of the list requested once before measuring.
# - Villages: PostGIS gets them from the same shapefile (ogr2ogr -t_srs EPSG:4326, GiST,
#   VACUUM ANALYZE), Martin serves every attribute; Formosa also sends each village's label
#   point (villages_label), which Martin does not.
# - Rounds alternate Formosa, Martin, Formosa, Martin … and the load average is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PARCELS=${PARCELS:-1000000}
BUILDINGS=${BUILDINGS:-200000}
DURATION=${DURATION:-20}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
VILLAGES=${VILLAGES:-7700}
OUT=${OUT:-benches/out}
FORMOSA_PORT=18180
MARTIN_PORT=18181
BARE_PORT=18182
mkdir -p "$OUT/mvt"
OUT=$(realpath "$OUT")
. benches/lib/large_data.sh

# --- tools ---------------------------------------------------------------------------
large_data_tools postgresql-15-postgis-3 wrk gdal-bin curl python3
MARTIN=${MARTIN:-$(command -v martin || echo "$OUT/tools/bin/martin")}
if [ ! -x "$MARTIN" ]; then
  echo "building Martin 1.14.0 (postgres only: its default 'rendering' feature downloads MapLibre Native) …"
  cargo install martin@1.14.0 --locked --no-default-features --features postgres --root "$OUT/tools" -q
  MARTIN="$OUT/tools/bin/martin"
fi
cargo build --release -q -p formosa-cli -p formosa-fixtures -p formosa-benches --bin bare_tiles

# --- data: one Formosa store, and the same rows in PostGIS (benches/lib/large_data.sh) --
large_data_store
large_data_postgis

# --- villages: a Formosa store of their own (the composite above stays parcels and
# buildings), and the same shapefile in PostGIS ----------------------------------------
V_DATA="$OUT/villages-$VILLAGES"
V_STORE="$OUT/villages-$VILLAGES.gpkg"
[ -f "$V_DATA/villages.shp" ] || target/release/formosa-fixtures villages --count "$VILLAGES" --out "$V_DATA"
[ -f "$V_STORE" ] || $FORMOSA -q --store "$V_STORE" import vector "$V_DATA/villages.shp" --layer villages
if ! psql "$PG_URL" -Atc "SELECT count(*) FROM villages" 2>/dev/null | grep -qx "$(ogrinfo -ro -so -al "$V_DATA/villages.shp" | sed -n 's/^Feature Count: //p')"; then
  ogr2ogr -f PostgreSQL "PG:$PG" "$V_DATA/villages.shp" -nln villages -overwrite -t_srs EPSG:4326 -nlt PROMOTE_TO_MULTI -lco GEOMETRY_NAME=geom -lco FID=fid
  psql "$PG_URL" -q -c "VACUUM ANALYZE villages"
fi
echo "villages: $(psql "$PG_URL" -Atc "SELECT count(*) || ' rows, median ' || percentile_disc(0.5) WITHIN GROUP (ORDER BY ST_NPoints(geom)) || ' vertices, at most ' || max(ST_NPoints(geom)) FROM villages")"

# --- tile lists (benches/lib/tile_lists.py): where the parcels are; villages anywhere --
python3 benches/lib/tile_lists.py parcels "$STORE" "$OUT/mvt"
python3 benches/lib/tile_lists.py villages "$V_STORE" "$OUT/mvt"


cat > "$OUT/mvt/martin.yaml" <<YAML
listen_addresses: 127.0.0.1:$MARTIN_PORT
postgres:
  connection_string: $PG_URL
  auto_publish: false
  tables:
    cadastral:
      schema: public
      table: cadastral
      srid: 4326
      geometry_column: geom
      id_column: fid
      minzoom: 14
      maxzoom: 16
      extent: 4096
      buffer: 128
      clip_geom: true
      properties: { parcel_no: text, section: text, county_code: text, town_code: text, land_use: text, area_m2: float8 }
    buildings:
      schema: public
      table: buildings
      srid: 4326
      geometry_column: geom
      id_column: fid
      minzoom: 13
      maxzoom: 16
      extent: 4096
      buffer: 128
      clip_geom: true
      properties: { height_m: float8, floors: int8, use: text, structure: text, name: text }
    villages:
      schema: public
      table: villages
      srid: 4326
      geometry_column: geom
      id_column: fid
      minzoom: 0
      maxzoom: 16
      extent: 4096
      buffer: 128
      clip_geom: true
      properties: { villcode: text, countyname: text, townname: text, villname: text, pop: int4 }
YAML

# A side is who answers (formosa, martin, bare) and on which data (basemap, villages).
start() { # side data cache(0|1)
  stop_server
  case "$1" in
    formosa)
      local mb=0 store=$STORE; [ "$3" = 1 ] && mb=512; [ "$2" = villages ] && store=$V_STORE
      formosa_serve $FORMOSA_PORT $mb "$store" ;;
    martin)
      local cache="cache: disable"; [ "$3" = 1 ] && cache="cache: { size_mb: 1024 }"
      { cat "$OUT/mvt/martin.yaml"; echo "$cache"; } > "$OUT/mvt/martin-run.yaml"
      RUST_LOG=error "$MARTIN" -c "$OUT/mvt/martin-run.yaml" >/dev/null 2>&1 & server_pid=$!
      wait_up "http://127.0.0.1:$MARTIN_PORT/health" ;;
    bare)
      target/release/bare_tiles "127.0.0.1:$BARE_PORT" "$OUT/mvt/bare-$2" 2>/dev/null & server_pid=$!
      wait_up "http://127.0.0.1:$BARE_PORT/$(head -1 "$OUT/mvt/bare-$2/index.tsv" | cut -f1 | cut -c2-)" ;;
  esac
}
url_format() { # side data
  case "$1/$2" in
    martin/basemap) echo "/cadastral,buildings/%s" ;;
    martin/villages) echo "/villages/%s" ;;
    */basemap) echo "/tiles/basemap/%s.mvt" ;;
    */villages) echo "/tiles/villages/%s.mvt" ;;
  esac
}
port_of() { case "$1" in formosa) echo $FORMOSA_PORT ;; martin) echo $MARTIN_PORT ;; bare) echo $BARE_PORT ;; esac; }
warm() { # side data list
  local fmt; fmt=$(url_format "$1" "$2")
  while read -r t; do
    # shellcheck disable=SC2059
    curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$(port_of "$1")$(printf "$fmt" "$t")"
  done < "$3"
}
# What the bare handler answers: Formosa's warm answers to every tile of the list, bodies
# (gzip) and headers, as a client received them.
capture() { # data list
  start formosa "$1" 1
  python3 - "http://127.0.0.1:$FORMOSA_PORT" "$(url_format formosa "$1")" "$2" "$OUT/mvt/bare-$1" <<'PY'
import http.client, os, sys, urllib.parse
base, fmt, tiles, out = sys.argv[1:5]
os.makedirs(out, exist_ok=True)
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
index, common = [], None
skip = {"date", "content-length", "etag", "connection", "transfer-encoding", "keep-alive"}
for i, t in enumerate(open(tiles).read().split()):
    path = fmt % t
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (path, r.status)
    headers = [(k, v) for k, v in r.getheaders() if k.lower() not in skip]
    if common is None and r.getheader("Content-Encoding") == "gzip":
        common = headers
    with open(f"{out}/{i}.mvt.gz", "wb") as f:
        f.write(body)
    index.append(f"{path}\t{out}/{i}.mvt.gz\t{r.getheader('ETag')}\n")
open(f"{out}/index.tsv", "w").writelines(index)
open(f"{out}/headers.txt", "w").writelines(f"{k}: {v}\n" for k, v in common)
print(f"captured {len(index)} warm answers for the bare handler; headers: {', '.join(k for k, _ in common)}, ETag")
PY
  stop_server
}
results="$OUT/mvt/results.txt"
: > "$results"
run() { # scenario side data list cache
  start "$2" "$3" "$5"
  [ "$5" = 1 ] && [ "$2" != bare ] && warm "$2" "$3" "$4"
  local r
  r=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s benches/lib/walk.lua "http://127.0.0.1:$(port_of "$2")" -- "$4" "$(url_format "$2" "$3")" | grep '^WALK')
  read -r _ rps p50 p90 p99 errs nf _ <<<"$r"
  echo "$1 $2 $rps $p50 $p90 $p99 $errs $nf load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
  stop_server
}

# --- same content? bytes per tile on a sample, both sides -----------------------------
start formosa basemap 0
head -40 "$OUT/mvt/tiles-mixed.txt" | while read -r t; do
  curl -s -o "$OUT/mvt/f.mvt" "http://127.0.0.1:$FORMOSA_PORT/tiles/basemap/$t.mvt"; echo "$t $(stat -c %s "$OUT/mvt/f.mvt")"; done > "$OUT/mvt/sizes-formosa.txt"
start martin basemap 0
head -40 "$OUT/mvt/tiles-mixed.txt" | while read -r t; do
  curl -s -o "$OUT/mvt/m.mvt" "http://127.0.0.1:$MARTIN_PORT/cadastral,buildings/$t"; echo "$t $(stat -c %s "$OUT/mvt/m.mvt")"; done > "$OUT/mvt/sizes-martin.txt"
stop_server
capture basemap "$OUT/mvt/tiles-mixed.txt"

echo "machine: nproc=$(nproc), load before: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNS -d${DURATION}s, gzip"
echo "scenario side tiles/s p50_ms p90_ms p99_ms errors 404s load"
for r in $(seq "$ROUNDS"); do
  for side in formosa martin; do run uncached-z12-16 "$side" basemap "$OUT/mvt/tiles-mixed.txt" 0; done
  for side in formosa martin; do run uncached-z15 "$side" basemap "$OUT/mvt/tiles-z15.txt" 0; done
  for side in formosa martin; do run uncached-villages "$side" villages "$OUT/mvt/tiles-villages.txt" 0; done
  for side in formosa martin bare; do run warm-z12-16 "$side" basemap "$OUT/mvt/tiles-mixed.txt" 1; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$results" "$OUT/mvt/sizes-formosa.txt" "$OUT/mvt/sizes-martin.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for scen, side, rps, p50, p90, p99, errs, nf, _ in rows:
    by.setdefault((scen, side), []).append((float(rps), float(p50), float(p99), int(errs)))
def med(k, i): return statistics.median(v[i] for v in by[k])
sizes = {}
for side, path in (("formosa", sys.argv[2]), ("martin", sys.argv[3])):
    for t, n in (l.split() for l in open(path)):
        sizes.setdefault(t, {})[side] = int(n)
f_bytes = sum(s.get("formosa", 0) for s in sizes.values()); m_bytes = sum(s.get("martin", 0) for s in sizes.values())
print(f"uncompressed bytes on the first {len(sizes)} tiles of the mixed list: formosa {f_bytes/1024:.0f} KiB, martin {m_bytes/1024:.0f} KiB")
goals = {"uncached-z12-16": ("≥ 5×", 5.0), "uncached-z15": ("≥ 2×", 2.0), "uncached-villages": ("≥ 4×", 4.0), "warm-z12-16": ("≥ 1×", 1.0)}
for scen, (text, goal) in goals.items():
    f, m = med((scen, "formosa"), 0), med((scen, "martin"), 0)
    errs = sum(v[3] for side in ("formosa", "martin") for v in by[(scen, side)])
    nf = {side: sum(int(r[7]) for r in rows if r[0] == scen and r[1] == side) for side in ("formosa", "martin")}
    print(f"{scen:16} formosa {f:8.1f} tiles/s (p50 {med((scen,'formosa'),1):.1f} ms, p99 {med((scen,'formosa'),2):.1f} ms)"
          f" | martin {m:8.1f} tiles/s (p50 {med((scen,'martin'),1):.1f} ms, p99 {med((scen,'martin'),2):.1f} ms)"
          f" | ratio {f/m:.2f} (goal {text}) {'met' if f/m >= goal else 'NOT met'}; errors {errs}, 404s formosa {nf['formosa']} martin {nf['martin']}")
p99 = med(("uncached-z15", "formosa"), 2)
print(f"formosa uncached z15 p99 {p99:.1f} ms (goal ≤ 10 ms) {'met' if p99 <= 10 else 'NOT met'}")
w, b = med(("warm-z12-16", "formosa"), 0), med(("warm-z12-16", "bare"), 0)
print(f"warm formosa / bare handler: {w:.1f} / {b:.1f} = {w/b:.2f} (goal ≥ 0.8) {'met' if w/b >= 0.8 else 'NOT met'}")
PY
