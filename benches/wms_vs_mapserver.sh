#!/usr/bin/env bash
# Side by side, in one run: Formosa's WMS GetMap vs MapServer 8.0 (Debian) over PostGIS, on
# the same rows (1 M generated parcels + 200 k buildings), the same maps (1024 × 768 PNG in
# EPSG:3857 at 1:1,000, 1:5,000 and 1:25,000; 200 bboxes per scale from a fixed seed, the
# same list and the same URL path for both), the same client (wrk, loopback) and the same
# concurrency. A second part measures Formosa alone: uncached WMTS tile latency, one
# connection, over 300 z16–z18 tiles.
#
#   benches/wms_vs_mapserver.sh                       # defaults below
#   DURATION=30 CONNS=16 ROUNDS=3 benches/wms_vs_mapserver.sh
#   SKIP_FORMOSA=1 benches/wms_vs_mapserver.sh        # the MapServer half only
#   SCALES=5000 benches/wms_vs_mapserver.sh           # one scale
#
# Fairness (../shared/DESIGN.md, "Fair side-by-side benchmarks"):
# - PostGIS gets exactly the rows Formosa serves (benches/lib/large_data.sh, shared with
#   mvt_vs_martin.sh): ogr2ogr copies the two layers out of the Formosa store, GiST index,
#   VACUUM ANALYZE.
# - MapServer runs as persistent processes: MS_PROCS (default 4; 2, 4 and 8 measure the
#   same on 2 cores) FastCGI mapserv processes, each started by spawn-fcgi on its own
#   socket, behind lighttpd on 127.0.0.1, which hands each request to the least busy one;
#   the PostGIS connections stay open between requests (PROCESSING
#   "CLOSE_CONNECTION=DEFER"). Formosa: `formosa serve --cache-mb 0` (no tile or map cache).
# - Same symbology, from styles/basemap.json: benches/mapserver/basemap.map draws the same
#   layers in the same order with the same colours, scale thresholds (MapLibre zoom z =
#   1:559082264.028/2^(z+1), 0.28 mm pixels), widths and fill opacities taken at the zoom of
#   each request scale, and the same labels:
#     background #f3f1ea;
#     cadastral (scale ≤ 1:8,531, z15): fill by land_use (住宅區 #f7e8c8, 商業區 #f4cccc,
#       公園用地 #cfe8c0, 學校用地 #e6dcf2, 道路用地 #ececec, else #efece4), opacity 0.44 at
#       1:5,000 and 0.7 at 1:1,000; lines #b5893f, 0.6 px at 1:5,000 and 1.25 px at 1:1,000;
#     buildings (scale ≤ 1:34,124, z13): fill #d9d0c1, 1 px outline #b8ab96, flat;
#     parcel_no labels (scale ≤ 1:2,133, z17): WenQuanYi Micro Hei 11 px, #6b4e16, 1 px
#       white halo, collision detection on both sides.
#   So 1:25,000 maps draw buildings only, 1:5,000 parcels and buildings, 1:1,000 parcels,
#   buildings and labels. Both answer 24-bit RGB PNG, anti-aliased. MapServer (AGG/PNG)
#   writes unfiltered rows at zlib level PNG_LEVEL (default 6, MapServer's default); the
#   deflate takes most of its time per map (level 1: about 1.5× the maps/s, 1.2× the
#   bytes), so the bytes per map of both sides are printed next to the rates: a ratio
#   means something only when those are alike (else set PNG_LEVEL to match).
# - What differs: MapServer parses the mapfile and queries PostGIS on every request (that is
#   how mapserv works); Formosa reads its own store's in-memory index. MapServer places a
#   polygon's label at a point it computes per request; the label placement, the
#   anti-aliasing and the PNG encoder are each side's own, so images are alike but not
#   identical, and the bytes per map differ (printed). MapServer leaves out the style's
#   buildings-3d extrusion layer; Formosa draws it too (its lit roof over the flat fill,
#   as MapLibre shows it from above): one more fill pass per building on Formosa's side. Sample
#   images of both sides, one per scale, are kept under $OUT/wms/ for a look.
# - Rounds alternate Formosa, MapServer, Formosa, MapServer … per scale; each side gets a
#   fresh server and WARMUP seconds of the same load before it is measured; nproc and the
#   load average are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PARCELS=${PARCELS:-1000000}
BUILDINGS=${BUILDINGS:-200000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
CONNS=${CONNS:-8}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
MS_PROCS=${MS_PROCS:-4}
PNG_LEVEL=${PNG_LEVEL:-6}
MAPS=${MAPS:-200}
SKIP_FORMOSA=${SKIP_FORMOSA:-0}
OUT=${OUT:-benches/out}
FORMOSA_PORT=18190
MAPSERVER_PORT=18191
SCALES=${SCALES:-"1000 5000 25000"}
GETMAP="/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS=EPSG:3857&BBOX=%s&WIDTH=1024&HEIGHT=768&FORMAT=image/png"
WMTS="/wmts/1.0.0/basemap/default/GoogleMapsCompatible/%s.png"
mkdir -p "$OUT/wms"
OUT=$(realpath "$OUT")
W="$OUT/wms"
. benches/lib/large_data.sh

# --- tools ---------------------------------------------------------------------------
large_data_tools postgresql-15-postgis-3 wrk gdal-bin curl python3 \
  mapserver-bin cgi-mapserver spawn-fcgi lighttpd fonts-wqy-microhei
if [ "$SKIP_FORMOSA" = 1 ]; then
  # The store and the data need the binaries; the server itself is not measured.
  [ -x "$FORMOSA" ] && [ -x target/release/formosa-fixtures ] ||
    cargo build --release -q -p formosa-cli -p formosa-fixtures
else
  cargo build --release -q -p formosa-cli -p formosa-fixtures
fi

# --- data: one Formosa store, and the same rows in PostGIS (benches/lib/large_data.sh) --
large_data_store
large_data_postgis

# --- the maps: 1024 × 768 bboxes centred on random points of the data extent -----------
$FORMOSA -q --store "$STORE" info --json > "$W/info.json"
python3 - "$W/info.json" "$STORE" "$W" "$MAPS" $SCALES <<'PY'
import json, math, random, sqlite3, sys
info, store, out, n, scales = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), [int(s) for s in sys.argv[5:]]
ext = next(l["extent"] for l in json.load(open(info))["layers"] if l["name"] == "cadastral")
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
R = 6378137.0
def merc(lon, lat): return math.radians(lon) * R, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * R
def lonlat(x, y): return math.degrees(x / R), math.degrees(2 * math.atan(math.exp(y / R)) - math.pi / 2)
def count(layer, b):
    (w, s), (e, n_) = lonlat(b[0], b[1]), lonlat(b[2], b[3])
    return db.execute(f"SELECT count(*) FROM rtree_{layer}_geom WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?", (w, e, s, n_)).fetchone()[0]
def bbox(x, y, scale):  # OGC scale: 0.28 mm pixels
    w, h = 1024 * 0.00028 * scale, 768 * 0.00028 * scale
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
# Uniform points in the cadastral extent; keep those whose 1:1,000 map shows a parcel (the
# extent's bounding box is mostly sea and hills in its north-west and south-east corners).
random.seed(20261123)
centres = []
while len(centres) < n:
    x, y = merc(random.uniform(ext["min_x"], ext["max_x"]), random.uniform(ext["min_y"], ext["max_y"]))
    if count("cadastral", bbox(x, y, 1000)) > 0:
        centres.append((x, y))
for scale in scales:
    boxes = [bbox(x, y, scale) for x, y in centres]
    parcels = [count("cadastral", b) if scale <= 8531 else 0 for b in boxes]
    buildings = [count("buildings", b) for b in boxes]
    with open(f"{out}/bbox-{scale}.txt", "w") as f:
        f.writelines("%.2f,%.2f,%.2f,%.2f\n" % b for b in boxes)
    # The busiest map of the list: the sample both sides must answer, and the one saved.
    busiest = max(range(len(boxes)), key=lambda i: parcels[i] + buildings[i])
    with open(f"{out}/sample-{scale}.txt", "w") as f:
        f.write("%.2f,%.2f,%.2f,%.2f\n" % boxes[busiest])
    print(f"1:{scale}: {len(boxes)} maps, drawn per map (mean / max): parcels {sum(parcels)/len(boxes):.0f} / {max(parcels)},"
          f" buildings {sum(buildings)/len(boxes):.0f} / {max(buildings)}")
# WMTS: 100 distinct tiles per zoom 16–18 where the parcels are (every 500th parcel's centre).
pts = db.execute("SELECT (minx+maxx)/2, (miny+maxy)/2 FROM rtree_cadastral_geom WHERE id % 500 = 0").fetchall()
def tile(lon, lat, z):
    n = 2 ** z
    r = math.radians(lat)
    return z, int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n), int((lon + 180) / 360 * n)
tiles = []
for z in (16, 17, 18):
    ts = sorted({tile(lon, lat, z) for lon, lat in pts})
    random.shuffle(ts)
    tiles += ts[:100]
random.shuffle(tiles)
with open(f"{out}/tiles-wmts.txt", "w") as f:
    f.writelines(f"{z}/{row}/{col}\n" for z, row, col in tiles)
print(f"WMTS: {len(tiles)} tiles z16–z18 (TileMatrix/TileRow/TileCol)")
PY

cat > "$W/list.lua" <<'LUA'
-- wrk: cycle through a list of URLs built from lines of a file (args: file, format with %s,
-- thread count); each thread starts at its own offset. A 200 answer that is not a PNG
-- counts as bad: MapServer reports WMS errors as XML with status 200.
local paths, idx, threads, n = {}, 0, {}, 0
bad = 0
function setup(thread)
  n = n + 1
  thread:set("id", n)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = string.format(args[2], line) end
  idx = math.floor((id - 1) * #paths / tonumber(args[3]))
end
function request()
  idx = idx % #paths + 1
  return wrk.format("GET", paths[idx])
end
function response(status, headers, body)
  if status == 200 and body:sub(1, 4) ~= "\137PNG" then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.2f %.2f %.2f %d %d %.0f\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, b, summary.bytes / math.max(summary.requests, 1)))
end
LUA

# --- MapServer: the mapfile with the connection filled in, FastCGI behind lighttpd ------
sed -e "s|@PG@|$PG|" -e "s|COMPRESSION=6|COMPRESSION=$PNG_LEVEL|" benches/mapserver/basemap.map > "$W/basemap.map"
cp benches/mapserver/fonts.txt "$W/fonts.txt"
cat > "$W/mapserver.conf" <<CONF
CONFIG
  ENV
    MS_MAPFILE "$W/basemap.map"
  END
END
CONF
cat > "$W/lighttpd.conf" <<CONF
server.modules = ( "mod_fastcgi" )
server.document-root = "$W"
server.bind = "127.0.0.1"
server.port = $MAPSERVER_PORT
server.errorlog = "$W/lighttpd.log"
fastcgi.server = ( "/wms" => (
$(for i in $(seq "$MS_PROCS"); do echo "  ( \"socket\" => \"$W/mapserv-$i.sock\", \"check-local\" => \"disable\" ),"; done)
) )
CONF

ms_pids=()
stop_mapserv() {
  # A FastCGI mapserv acts on SIGTERM only after its next request: give it a moment.
  [ ${#ms_pids[@]} -gt 0 ] || return 0
  kill "${ms_pids[@]}" 2>/dev/null || true
  sleep 0.2
  kill -KILL "${ms_pids[@]}" 2>/dev/null || true
  wait "${ms_pids[@]}" 2>/dev/null || true
  ms_pids=()
}
stop_all() { stop_server; stop_mapserv; }
trap stop_all EXIT
start() { # side
  stop_all
  if [ "$1" = formosa ]; then
    formosa_serve $FORMOSA_PORT 0
  else
    local i
    for i in $(seq "$MS_PROCS"); do
      rm -f "$W/mapserv-$i.sock"
      MAPSERVER_CONFIG_FILE="$W/mapserver.conf" spawn-fcgi -n -s "$W/mapserv-$i.sock" -- /usr/bin/mapserv & ms_pids+=($!)
    done
    for i in $(seq "$MS_PROCS"); do
      for _ in $(seq 100); do [ -S "$W/mapserv-$i.sock" ] && break; sleep 0.05; done
    done
    lighttpd -D -f "$W/lighttpd.conf" & server_pid=$!
    wait_up "http://127.0.0.1:$MAPSERVER_PORT/wms?SERVICE=WMS&REQUEST=GetCapabilities"
  fi
}
port_of() { [ "$1" = formosa ] && echo $FORMOSA_PORT || echo $MAPSERVER_PORT; }
check_png() { # file width height min_bytes what
  python3 - "$@" <<'PY'
import struct, sys
path, w, h, min_bytes, what = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
b = open(path, "rb").read()
ok = b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and struct.unpack(">II", b[16:24]) == (w, h) and len(b) >= min_bytes
if not ok:
    sys.exit(f"{what}: not a {w}×{h} PNG of at least {min_bytes} bytes ({len(b)} bytes): {b[:300]!r}")
PY
}

SIDES="formosa mapserver"
[ "$SKIP_FORMOSA" = 1 ] && SIDES=mapserver

# --- before measuring: each side answers the busiest map of each scale with a real PNG ---
for side in $SIDES; do
  start "$side"
  for scale in $SCALES; do
    # shellcheck disable=SC2059
    url="http://127.0.0.1:$(port_of "$side")$(printf "$GETMAP" "$(cat "$W/sample-$scale.txt")")"
    curl -s -o "$W/sample-$side-1to$scale.png" "$url"
    check_png "$W/sample-$side-1to$scale.png" 1024 768 8192 "$side 1:$scale"
    echo "$side 1:$scale sample: $(stat -c %s "$W/sample-$side-1to$scale.png") bytes → $W/sample-$side-1to$scale.png"
  done
  if [ "$side" = formosa ]; then
    t=$(head -1 "$W/tiles-wmts.txt")
    # shellcheck disable=SC2059
    curl -s -o "$W/sample-formosa-wmts.png" "http://127.0.0.1:$FORMOSA_PORT$(printf "$WMTS" "$t")"
    check_png "$W/sample-formosa-wmts.png" 256 256 200 "formosa WMTS $t"
    echo "formosa WMTS $t sample: $(stat -c %s "$W/sample-formosa-wmts.png") bytes → $W/sample-formosa-wmts.png"
  fi
done
stop_all

results="$W/results.txt"
: > "$results"
run() { # scenario side list format threads conns
  start "$2"
  local url="http://127.0.0.1:$(port_of "$2")" r
  [ "$WARMUP" -gt 0 ] && wrk -t"$5" -c"$6" -d"${WARMUP}s" --timeout 10s -s "$W/list.lua" "$url" -- "$3" "$4" "$5" >/dev/null
  r=$(wrk -t"$5" -c"$6" -d"${DURATION}s" --timeout 10s -s "$W/list.lua" "$url" -- "$3" "$4" "$5" | grep '^RESULT')
  echo "$1 $2 ${r#RESULT } load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results"
  stop_all
}

echo "run: PARCELS=$PARCELS BUILDINGS=$BUILDINGS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS THREADS=$THREADS ROUNDS=$ROUNDS MS_PROCS=$MS_PROCS PNG_LEVEL=$PNG_LEVEL MAPS=$MAPS SKIP_FORMOSA=$SKIP_FORMOSA $0"
echo "machine: nproc=$(nproc), load before: $(cut -d' ' -f1-3 /proc/loadavg); MapServer $(mapserv -v | grep -o 'version [0-9.]*'): $MS_PROCS FastCGI mapserv behind lighttpd"
echo "command: wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout 10s -s $W/list.lua http://127.0.0.1:PORT -- $W/bbox-SCALE.txt '$GETMAP' $THREADS"
echo "scenario side maps/s p50_ms p90_ms p99_ms errors non_png bytes/answer load"
for r in $(seq "$ROUNDS"); do
  for scale in $SCALES; do
    for side in $SIDES; do run "wms-1:$scale" "$side" "$W/bbox-$scale.txt" "$GETMAP" "$THREADS" "$CONNS"; done
  done
done
if [ "$SKIP_FORMOSA" != 1 ]; then
  echo "command: wrk -t1 -c1 -d${DURATION}s --timeout 10s -s $W/list.lua http://127.0.0.1:$FORMOSA_PORT -- $W/tiles-wmts.txt '$WMTS' 1"
  for r in $(seq "$ROUNDS"); do run wmts-z16-18-c1 formosa "$W/tiles-wmts.txt" "$WMTS" 1 1; done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$results" "$SKIP_FORMOSA" $SCALES <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
skip_formosa, scales = sys.argv[2] == "1", sys.argv[3:]
by = {}
for scen, side, rps, p50, p90, p99, errs, bad, size, _ in rows:
    by.setdefault((scen, side), []).append((float(rps), float(p50), float(p99), int(errs) + int(bad), float(size)))
def med(k, i): return statistics.median(v[i] for v in by[k])
def side(k):
    return (f"{med(k,0):7.1f} maps/s (p50 {med(k,1):6.1f} ms, p99 {med(k,2):6.1f} ms, {med(k,4)/1024:5.0f} KiB/map,"
            f" errors {sum(v[3] for v in by[k])})")
for scale in scales:
    scen = f"wms-1:{scale}"
    m = (scen, "mapserver")
    if skip_formosa:
        print(f"1:{scale:>6} mapserver {side(m)}")
        continue
    f = (scen, "formosa")
    print(f"1:{scale:>6} formosa {side(f)} | mapserver {side(m)} | ratio formosa/mapserver {med(f,0)/med(m,0):.2f}")
if not skip_formosa:
    k = ("wmts-z16-18-c1", "formosa")
    p50 = med(k, 1)
    print(f"formosa uncached WMTS z16–z18, one connection: p50 {p50:.1f} ms, p99 {med(k,2):.1f} ms, errors {sum(v[3] for v in by[k])}"
          f" (goal p50 ≤ 30 ms) {'met' if p50 <= 30 else 'NOT met'}")
PY
