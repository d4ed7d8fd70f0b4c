#!/usr/bin/env bash
# Formosa past one machine, measured in one run (issue: "Past one machine"):
#  1. one node on PostGIS vs one node on the GeoPackage store, same 1 M parcels + 200 k
#     buildings, uncached z12–z16 and warm (goal ≥ 0.9×), and Martin 1.14 on the SAME
#     PostGIS database, the same tables Formosa's node reads (goal: the PostGIS node ≥ 2×);
#  2. cold start of a node over that database until its first tile (goal ≤ 10 s);
#  3. an edit on node A until node B's next tile shows it, 1,000 edits (goal p99 ≤ 1 s);
#  4. two nodes behind HAProxy vs one node behind the same HAProxy, tiles/s.
# Rounds alternate the sides; the load average is printed with every line.
#
#   benches/postgis_node.sh          DURATION=20 CONNS=16 ROUNDS=2 EDITS=1000
set -euo pipefail
cd "$(dirname "$0")/.."
PARCELS=${PARCELS:-1000000}
BUILDINGS=${BUILDINGS:-200000}
DURATION=${DURATION:-20}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
EDITS=${EDITS:-1000}
OUT=${OUT:-benches/out}
mkdir -p "$OUT/postgis"
OUT=$(realpath "$OUT")
. benches/lib/large_data.sh
PGNODE_URL="postgresql://formosa_bench:formosa_bench@127.0.0.1:5432/formosa_pgnode"
GPKG_PORT=18280
PG_PORT=18281
PG_PORT_B=18282
MARTIN_PORT=18283
LB_PORT=18284

large_data_tools postgresql-15-postgis-3 wrk gdal-bin curl python3 haproxy
MARTIN=${MARTIN:-$(command -v martin || echo "$OUT/tools/bin/martin")}
if [ ! -x "$MARTIN" ]; then
  echo "building Martin 1.14.0 (postgres only) …"
  cargo install martin@1.14.0 --locked --no-default-features --features postgres --root "$OUT/tools" -q
  MARTIN="$OUT/tools/bin/martin"
fi
cargo build --release -q -p formosa-cli -p formosa-fixtures
large_data_store
large_data_postgis   # the role and cluster; Martin's own copy is not used here

# --- the same store published into PostGIS (Formosa's schema) --------------------------
if ! psql "$PGNODE_URL" -Atc "SELECT feature_count FROM formosa_layers WHERE name = 'cadastral'" 2>/dev/null | grep -qx "$PARCELS"; then
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS formosa_pgnode' -c 'CREATE DATABASE formosa_pgnode OWNER formosa_bench'" </dev/null
  su postgres -c "psql -q -d formosa_pgnode -c 'CREATE EXTENSION postgis'" </dev/null
  start=$(date +%s.%N)
  $FORMOSA -q publish "$STORE" "$PGNODE_URL"
  echo "publish GeoPackage → PostGIS ($PARCELS parcels, $BUILDINGS buildings): $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"
  psql "$PGNODE_URL" -q -c "VACUUM ANALYZE cadastral" -c "VACUUM ANALYZE buildings"
fi
psql "$PGNODE_URL" -Atc "SELECT 'formosa_pgnode rows: cadastral ' || (SELECT count(*) FROM cadastral) || ', buildings ' || (SELECT count(*) FROM buildings)"

# --- tile lists (benches/lib/tile_lists.py): tiles-mixed.txt, edit-points.txt ---------
python3 benches/lib/tile_lists.py parcels "$STORE" "$OUT/postgis"

# Martin on the very tables the PostGIS node reads.
cat > "$OUT/postgis/martin.yaml" <<YAML
listen_addresses: 127.0.0.1:$MARTIN_PORT
postgres:
  connection_string: $PGNODE_URL
  auto_publish: false
  tables:
    cadastral: { schema: public, table: cadastral, srid: 4326, geometry_column: geom, id_column: fid, geometry_type: MULTIPOLYGON, minzoom: 14, maxzoom: 16, extent: 4096, buffer: 128, clip_geom: true, properties: { parcel_no: text, section: text, county_code: text, town_code: text, land_use: text, area_m2: float8 } }
    buildings: { schema: public, table: buildings, srid: 4326, geometry_column: geom, id_column: fid, geometry_type: MULTIPOLYGON, minzoom: 13, maxzoom: 16, extent: 4096, buffer: 128, clip_geom: true, properties: { height_m: float8, floors: int8, use: text, structure: text, name: text } }
YAML

pids=()
stop_all() { stop_server; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap stop_all EXIT
start() { # side cache(0|1)
  stop_all
  local mb=0; [ "$2" = 1 ] && mb=512
  case "$1" in
    gpkg) formosa_serve $GPKG_PORT $mb ;;
    postgis) formosa_serve $PG_PORT $mb "$PGNODE_URL" ;;
    martin)
      local cache="cache: disable"; [ "$2" = 1 ] && cache="cache: { size_mb: 1024 }"
      { cat "$OUT/postgis/martin.yaml"; echo "$cache"; } > "$OUT/postgis/martin-run.yaml"
      RUST_LOG=error "$MARTIN" -c "$OUT/postgis/martin-run.yaml" >/dev/null 2>&1 & server_pid=$!
      wait_up "http://127.0.0.1:$MARTIN_PORT/health" ;;
  esac
}
port_of() { case "$1" in gpkg) echo $GPKG_PORT ;; postgis) echo $PG_PORT ;; martin) echo $MARTIN_PORT ;; lb*) echo $LB_PORT ;; esac; }
fmt_of() { [ "$1" = martin ] && echo "/cadastral,buildings/%s" || echo "/tiles/basemap/%s.mvt"; }
warm() {
  local fmt; fmt=$(fmt_of "$1")
  while read -r t; do
    # shellcheck disable=SC2059
    curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$(port_of "$1")$(printf "$fmt" "$t")"
  done < "$OUT/postgis/tiles-mixed.txt"
}
results="$OUT/postgis/results.txt"
: > "$results"
measure() { # scenario side
  local r
  r=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s benches/lib/walk.lua "http://127.0.0.1:$(port_of "$2")" -- "$OUT/postgis/tiles-mixed.txt" "$(fmt_of "$2")" | grep '^WALK')
  read -r _ rps p50 p90 p99 errs nf _ <<<"$r"
  echo "$1 $2 $rps $p50 $p90 $p99 $errs $nf load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
}
run() { # scenario side cache
  start "$2" "$3"
  [ "$3" = 1 ] && warm "$2"
  measure "$1" "$2"
  stop_all
}

echo "machine: nproc=$(nproc), load before: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNS -d${DURATION}s, gzip"

# --- 2. cold start: process start → first tile -------------------------------------------
first_tile="$(sed -n 1p "$OUT/postgis/tiles-mixed.txt")"
for side in postgis gpkg postgis gpkg; do
  stop_all
  store="$STORE"; port=$GPKG_PORT; [ "$side" = postgis ] && { store="$PGNODE_URL"; port=$PG_PORT; }
  t0=$(date +%s.%N)
  $FORMOSA -q --store "$store" serve --bind "127.0.0.1:$port" & server_pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/tiles/basemap/$first_tile.mvt"; do sleep 0.05; done
  echo "cold-start $side $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s to the first tile" | tee -a "$results"
done
stop_all

# --- 1. tiles/s ---------------------------------------------------------------------------
echo "scenario side tiles/s p50_ms p90_ms p99_ms errors 404s load"
for r in $(seq "$ROUNDS"); do
  for side in gpkg postgis martin; do run uncached-z12-16 "$side" 0; done
  for side in gpkg postgis martin; do run warm-z12-16 "$side" 1; done
done

# --- 4. one node vs two nodes behind HAProxy (uncached: the CPU-bound case) ------------
lb() { # nodes
  stop_all
  local servers=""
  for i in $(seq 1 "$1"); do
    local port=$((PG_PORT + i - 1))
    $FORMOSA -q --store "$PGNODE_URL" serve --bind "127.0.0.1:$port" --cache-mb 0 & pids+=($!)
    servers+="    server n$i 127.0.0.1:$port"$'\n'
  done
  for i in $(seq 1 "$1"); do wait_up "http://127.0.0.1:$((PG_PORT + i - 1))/health"; done
  printf 'defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\nfrontend f\n    bind 127.0.0.1:%s\n    default_backend b\nbackend b\n    balance roundrobin\n%s' "$LB_PORT" "$servers" > "$OUT/postgis/haproxy.cfg"
  haproxy -f "$OUT/postgis/haproxy.cfg" & pids+=($!)
  wait_up "http://127.0.0.1:$LB_PORT/health"
  sleep 3 # rows into memory
}
for r in $(seq "$ROUNDS"); do
  lb 1; measure uncached-lb lb-1-node
  lb 2; measure uncached-lb lb-2-nodes
done
stop_all

# --- 3. edit on node A → node B's next tile ------------------------------------------------
FORMOSA_WRITE_TOKEN=bench $FORMOSA -q --store "$PGNODE_URL" serve --bind "127.0.0.1:$PG_PORT" & pids+=($!)
FORMOSA_WRITE_TOKEN=bench $FORMOSA -q --store "$PGNODE_URL" serve --bind "127.0.0.1:$PG_PORT_B" & pids+=($!)
wait_up "http://127.0.0.1:$PG_PORT/health"; wait_up "http://127.0.0.1:$PG_PORT_B/health"
python3 - "$PG_PORT" "$PG_PORT_B" "$EDITS" "$OUT/postgis/edit-points.txt" <<'PY' | tee -a "$results"
import http.client, json, math, sys, time
a, b, n, points = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), [tuple(map(float, l.split())) for l in open(sys.argv[4])]
def tile(lon, lat, z=16):
    k = 2 ** z
    r = math.radians(lat)
    return z, int((lon + 180) / 360 * k), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * k)
ca, cb = http.client.HTTPConnection("127.0.0.1", a), http.client.HTTPConnection("127.0.0.1", b)
def get(c, path):
    c.request("GET", path); r = c.getresponse(); return r.status, r.read()
lat_s, misses = [], 0
for i in range(n):
    lon, lat = points[i % len(points)]
    z, x, y = tile(lon, lat)
    path = f"/tiles/incidents/{z}/{x}/{y}.mvt"
    get(cb, path)  # node B holds the tile before the edit
    tag = f"bench-edit-{i}-{time.time_ns()}".encode()
    body = json.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                       "properties": {"type": "flooding", "severity": 2, "description": tag.decode()}})
    t0 = time.perf_counter()
    ca.request("POST", "/ogcapi/collections/incidents/items", body, {"Authorization": "Bearer bench", "Content-Type": "application/json"})
    r = ca.getresponse(); r.read()
    assert r.status == 201, r.status
    while True:
        status, data = get(cb, path)
        if tag in data:
            break
        if time.perf_counter() - t0 > 10:
            misses += 1
            break
        time.sleep(0.002)
    lat_s.append(time.perf_counter() - t0)
lat_s.sort()
q = lambda p: lat_s[min(len(lat_s) - 1, int(p * len(lat_s)))] * 1000
print(f"edit-visibility {n} edits: POST on A → B's next tile shows it: p50 {q(0.5):.1f} ms, p90 {q(0.9):.1f} ms, p99 {q(0.99):.1f} ms, max {lat_s[-1]*1000:.1f} ms, not seen within 10 s: {misses} (goal p99 ≤ 1000 ms)")
PY
stop_all
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith(("cold-start", "edit-visibility"))]
by = {}
for scen, side, rps, p50, p90, p99, errs, nf, _ in rows:
    by.setdefault((scen, side), []).append((float(rps), float(p50), float(p99), int(errs)))
med = lambda k, i: statistics.median(v[i] for v in by[k])
for scen in ("uncached-z12-16", "warm-z12-16"):
    g, p, m = (med((scen, s), 0) for s in ("gpkg", "postgis", "martin"))
    print(f"{scen:16} gpkg {g:8.1f} | postgis {p:8.1f} (p99 {med((scen,'postgis'),2):.1f} ms) | martin {m:8.1f} tiles/s"
          f" | postgis/gpkg {p/g:.2f} (goal ≥ 0.9) {'met' if p/g >= 0.9 else 'NOT met'} | postgis/martin {p/m:.2f} (goal ≥ 2) {'met' if p/m >= 2 else 'NOT met'}")
one, two = med(("uncached-lb", "lb-1-node"), 0), med(("uncached-lb", "lb-2-nodes"), 0)
print(f"behind HAProxy, uncached: 1 node {one:.1f}, 2 nodes {two:.1f} tiles/s, ratio {two/one:.2f}")
PY
