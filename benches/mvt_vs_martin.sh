#!/usr/bin/env bash
# Side by side, in one run: Formosa's composite vector tiles vs Martin 1.14 over PostGIS,
# on the same rows (1 M generated parcels + 200 k buildings), the same tile list, the same
# client (wrk, loopback), the same concurrency and the same compression (gzip).
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
# - Rounds alternate Formosa, Martin, Formosa, Martin … and the load average is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PARCELS=${PARCELS:-1000000}
BUILDINGS=${BUILDINGS:-200000}
DURATION=${DURATION:-20}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-benches/out}
FORMOSA_PORT=18180
MARTIN_PORT=18181
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
cargo build --release -q -p formosa-cli -p formosa-fixtures

# --- data: one Formosa store, and the same rows in PostGIS (benches/lib/large_data.sh) --
large_data_store
large_data_postgis

# --- tile lists: where the data is (tiles of every 500th parcel's centre) -------------
python3 - "$STORE" "$OUT/mvt" <<'PY'
import math, random, sqlite3, sys
store, out = sys.argv[1], sys.argv[2]
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
pts = db.execute("SELECT (minx+maxx)/2, (miny+maxy)/2 FROM rtree_cadastral_geom WHERE id % 500 = 0").fetchall()
def tile(lon, lat, z):
    n = 2 ** z
    r = math.radians(lat)
    return z, int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
random.seed(7)
mixed = []
for z in range(12, 17):
    tiles = sorted({tile(lon, lat, z) for lon, lat in pts})
    random.shuffle(tiles)
    mixed += tiles[:300]
random.shuffle(mixed)
z15 = sorted({tile(lon, lat, 15) for lon, lat in pts})
random.shuffle(z15)
for name, tiles in (("mixed", mixed), ("z15", z15)):
    with open(f"{out}/tiles-{name}.txt", "w") as f:
        f.writelines(f"{z}/{x}/{y}\n" for z, x, y in tiles)
print(f"tile lists: z12–z16 mixed {len(mixed)} tiles, z15 {len(z15)} tiles")
PY


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
YAML

start() { # side cache(0|1)
  stop_server
  if [ "$1" = formosa ]; then
    local mb=0; [ "$2" = 1 ] && mb=512
    formosa_serve $FORMOSA_PORT $mb
  else
    local cache="cache: disable"; [ "$2" = 1 ] && cache="cache: { size_mb: 1024 }"
    { cat "$OUT/mvt/martin.yaml"; echo "$cache"; } > "$OUT/mvt/martin-run.yaml"
    RUST_LOG=error "$MARTIN" -c "$OUT/mvt/martin-run.yaml" >/dev/null 2>&1 & server_pid=$!
    wait_up "http://127.0.0.1:$MARTIN_PORT/health"
  fi
}
url_format() { [ "$1" = formosa ] && echo "/tiles/basemap/%s.mvt" || echo "/cadastral,buildings/%s"; }
port_of() { [ "$1" = formosa ] && echo $FORMOSA_PORT || echo $MARTIN_PORT; }
warm() { # side list
  local fmt; fmt=$(url_format "$1")
  while read -r t; do
    # shellcheck disable=SC2059
    curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$(port_of "$1")$(printf "$fmt" "$t")"
  done < "$2"
}
results="$OUT/mvt/results.txt"
: > "$results"
run() { # scenario side list cache
  start "$2" "$4"
  [ "$4" = 1 ] && warm "$2" "$3"
  local r
  r=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s benches/lib/walk.lua "http://127.0.0.1:$(port_of "$2")" -- "$3" "$(url_format "$2")" | grep '^WALK')
  read -r _ rps p50 p90 p99 errs nf _ <<<"$r"
  echo "$1 $2 $rps $p50 $p90 $p99 $errs $nf load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
  stop_server
}

# --- same content? bytes per tile on a sample, both sides -----------------------------
start formosa 0
head -40 "$OUT/mvt/tiles-mixed.txt" | while read -r t; do
  curl -s -o "$OUT/mvt/f.mvt" "http://127.0.0.1:$FORMOSA_PORT/tiles/basemap/$t.mvt"; echo "$t $(stat -c %s "$OUT/mvt/f.mvt")"; done > "$OUT/mvt/sizes-formosa.txt"
start martin 0
head -40 "$OUT/mvt/tiles-mixed.txt" | while read -r t; do
  curl -s -o "$OUT/mvt/m.mvt" "http://127.0.0.1:$MARTIN_PORT/cadastral,buildings/$t"; echo "$t $(stat -c %s "$OUT/mvt/m.mvt")"; done > "$OUT/mvt/sizes-martin.txt"
stop_server

echo "machine: nproc=$(nproc), load before: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNS -d${DURATION}s, gzip"
echo "scenario side tiles/s p50_ms p90_ms p99_ms errors 404s load"
for r in $(seq "$ROUNDS"); do
  for side in formosa martin; do run uncached-z12-16 "$side" "$OUT/mvt/tiles-mixed.txt" 0; done
  for side in formosa martin; do run uncached-z15 "$side" "$OUT/mvt/tiles-z15.txt" 0; done
  for side in formosa martin; do run warm-z12-16 "$side" "$OUT/mvt/tiles-mixed.txt" 1; done
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
goals = {"uncached-z12-16": ("≥ 2×", 2.0), "uncached-z15": ("≥ 2×", 2.0), "warm-z12-16": ("≥ 1×", 1.0)}
for scen, (text, goal) in goals.items():
    f, m = med((scen, "formosa"), 0), med((scen, "martin"), 0)
    errs = sum(v[3] for side in ("formosa", "martin") for v in by[(scen, side)])
    nf = {side: sum(int(r[7]) for r in rows if r[0] == scen and r[1] == side) for side in ("formosa", "martin")}
    print(f"{scen:16} formosa {f:8.1f} tiles/s (p50 {med((scen,'formosa'),1):.1f} ms, p99 {med((scen,'formosa'),2):.1f} ms)"
          f" | martin {m:8.1f} tiles/s (p50 {med((scen,'martin'),1):.1f} ms, p99 {med((scen,'martin'),2):.1f} ms)"
          f" | ratio {f/m:.2f} (goal {text}) {'met' if f/m >= goal else 'NOT met'}; errors {errs}, 404s formosa {nf['formosa']} martin {nf['martin']}")
p99 = med(("uncached-z15", "formosa"), 2)
print(f"formosa uncached z15 p99 {p99:.1f} ms (goal ≤ 15 ms) {'met' if p99 <= 15 else 'NOT met'}")
PY
