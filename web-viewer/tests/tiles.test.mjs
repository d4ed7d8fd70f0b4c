// Vector tiles decoded with an independent decoder (@mapbox/vector-tile + pbf) and checked
// against the store as GDAL reads it (ogr2ogr → GeoJSON): layers, typed attributes,
// positions, holes, multipolygons, features crossing tile edges; HTTP caching rules; bad
// requests. Runs against a `formosa demo` over the bundled fixtures.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { startDemo } from './server.mjs';

let demo;
before(async () => { demo = await startDemo(); });
after(() => demo?.child.kill());

const lon2tile = (lon, z) => Math.floor(((lon + 180) / 360) * 2 ** z);
const lat2tile = (lat, z) => {
  const r = (lat * Math.PI) / 180;
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
};

async function fetchTile(path, headers = {}) {
  const res = await fetch(`${demo.base}${path}`, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body };
}

function decode(buf) {
  return new VectorTile(new PbfReader(buf));
}

/** The store's features of a layer as GeoJSON, read by GDAL (not by Formosa). */
function storeGeoJSON(layer, where) {
  const out = execFileSync('ogr2ogr', ['-f', 'GeoJSON', '/vsistdout/', demo.gdal, layer, '-where', where], { maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/** All positions of a decoded feature, as [lon, lat]. */
function positions(feature, x, y, z) {
  const g = feature.toGeoJSON(x, y, z).geometry;
  return JSON.stringify(g.coordinates).match(/-?\d+\.?\d*(e-?\d+)?,-?\d+\.?\d*(e-?\d+)?/g).map((p) => p.split(',').map(Number));
}

test('a z16 basemap tile over 信義區 carries every layer with typed attributes at the right places', async () => {
  const z = 16;
  const x = lon2tile(121.5600, z);
  const y = lat2tile(25.0335, z);
  const { res, body } = await fetchTile(`/tiles/basemap/${z}/${x}/${y}.mvt`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/vnd.mapbox-vector-tile');
  const tile = decode(body);
  for (const name of ['cadastral', 'buildings', 'pipelines', 'towns']) {
    assert.ok(tile.layers[name]?.length > 0, `layer ${name} in tile: ${Object.keys(tile.layers)}`);
    assert.equal(tile.layers[name].extent, 4096);
    assert.equal(tile.layers[name].version, 2);
  }
  const parcel = tile.layers.cadastral.feature(0);
  assert.equal(typeof parcel.properties.parcel_no, 'string');
  assert.equal(typeof parcel.properties.area_m2, 'number');
  const pipe = tile.layers.pipelines.feature(0);
  assert.ok(['water', 'gas', 'power', 'telecom', 'sewer', 'other'].includes(pipe.properties.utility));

  // Every vertex of a parcel fully inside the tile matches GDAL's reading of the store to
  // within a tile unit (≈ 0.15 m at z16).
  const unitDeg = 360 / 2 ** z / 4096;
  let compared = 0;
  for (let i = 0; i < tile.layers.cadastral.length && compared < 5; i++) {
    const f = tile.layers.cadastral.feature(i);
    const bbox = f.bbox();
    if (bbox[0] < 0 || bbox[1] < 0 || bbox[2] > 4096 || bbox[3] > 4096) continue;
    const ours = positions(f, x, y, z);
    const theirs = storeGeoJSON('cadastral', `fid = ${f.id}`).features[0];
    assert.equal(theirs.properties.parcel_no, f.properties.parcel_no);
    const ring = JSON.stringify(theirs.geometry.coordinates).match(/-?\d+\.?\d*(e-?\d+)?,-?\d+\.?\d*(e-?\d+)?/g).map((p) => p.split(',').map(Number));
    for (const [lon, lat] of ours) {
      const nearest = Math.min(...ring.map(([a, b]) => Math.hypot(a - lon, b - lat)));
      assert.ok(nearest < 1.5 * unitDeg, `vertex ${lon},${lat} of parcel ${f.id} is ${nearest}° from the store's`);
    }
    compared++;
  }
  assert.ok(compared >= 3, `compared ${compared} parcels`);
});

test('holes and multipolygons survive, with v2 winding (exterior clockwise in tile space)', async () => {
  // Parcels with a courtyard: GDAL counts interior rings > 0.
  const withHoles = storeGeoJSON('cadastral', 'fid > 0').features.filter((f) =>
    f.geometry.type === 'MultiPolygon' ? f.geometry.coordinates.some((p) => p.length > 1) : f.geometry.coordinates.length > 1);
  assert.ok(withHoles.length > 0, 'fixtures have parcels with holes');
  const target = withHoles[0];
  const [lon, lat] = target.geometry.coordinates.flat(3).slice(0, 2);
  const z = 17;
  const x = lon2tile(lon, z);
  const y = lat2tile(lat, z);
  const tile = decode((await fetchTile(`/tiles/cadastral/${z}/${x}/${y}.mvt`)).body);
  const layer = tile.layers.cadastral;
  let found = null;
  for (let i = 0; i < layer.length; i++) if (layer.feature(i).properties.parcel_no === target.properties.parcel_no) found = layer.feature(i);
  assert.ok(found, 'parcel with a hole is in its tile');
  const rings = found.loadGeometry();
  const area = (r) => r.reduce((s, p, i) => { const q = r[(i + 1) % r.length]; return s + p.x * q.y - q.x * p.y; }, 0);
  assert.ok(rings.length >= 2, 'hole kept');
  assert.ok(area(rings[0]) > 0, 'exterior ring positive (clockwise, y down)');
  assert.ok(rings.slice(1).some((r) => area(r) < 0), 'a hole is negative');
  // As GeoJSON, the decoder sees a polygon with a hole.
  const gj = found.toGeoJSON(x, y, z).geometry;
  assert.ok(gj.type === 'Polygon' ? gj.coordinates.length >= 2 : gj.coordinates.some((p) => p.length >= 2));
});

test('a feature crossing a tile edge is in both tiles, clipped within the buffer', async () => {
  const z = 15;
  const x = lon2tile(121.5600, z);
  const y = lat2tile(25.0335, z);
  const left = decode((await fetchTile(`/tiles/towns/${z}/${x}/${y}.mvt`)).body).layers.towns;
  const right = decode((await fetchTile(`/tiles/towns/${z}/${x + 1}/${y}.mvt`)).body).layers.towns;
  const idsLeft = new Set(Array.from({ length: left.length }, (_, i) => left.feature(i).id));
  const shared = Array.from({ length: right.length }, (_, i) => right.feature(i)).filter((f) => idsLeft.has(f.id));
  assert.ok(shared.length > 0, 'a district spans both tiles');
  for (const f of shared) {
    for (const ring of f.loadGeometry()) {
      for (const p of ring) {
        assert.ok(p.x >= -128 && p.x <= 4096 + 128 && p.y >= -128 && p.y <= 4096 + 128, `point ${p.x},${p.y} outside buffer`);
      }
    }
  }
});

test('gzip and brotli by Accept-Encoding, strong ETag and 304, CORS', async () => {
  const path = `/tiles/basemap/16/${lon2tile(121.56, 16)}/${lat2tile(25.0335, 16)}.mvt`;
  const plain = await fetchTile(path, { 'accept-encoding': 'identity' });
  const etag = plain.res.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{32}-\d+"$/);
  assert.equal(plain.res.headers.get('access-control-allow-origin'), '*');
  // Node's fetch decodes automatically; ask with a raw request to see the encoding.
  const raw = async (enc) => {
    const http = await import('node:http');
    return new Promise((resolve, reject) => {
      http.get(`${demo.base}${path}`, { headers: { 'accept-encoding': enc } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
  };
  const gz = await raw('gzip');
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(gz.body), plain.body);
  const br = await raw('br, gzip');
  assert.equal(br.headers['content-encoding'], 'br');
  assert.deepEqual(brotliDecompressSync(br.body), plain.body);
  assert.equal(br.headers.vary, 'Accept-Encoding');
  const again = await fetchTile(path, { 'if-none-match': etag });
  assert.equal(again.res.status, 304);
});

test('empty tiles are empty, consistently', async () => {
  // Open sea south of Taiwan.
  const a = await fetchTile('/tiles/basemap/14/13900/7300.mvt');
  const b = await fetchTile('/tiles/basemap/14/13900/7301.mvt');
  assert.equal(a.res.status, 200);
  assert.equal(a.body.length, 0);
  assert.equal(b.body.length, 0);
  assert.equal(Object.keys(decode(a.body).layers).length, 0);
});

test('below a layer\'s minzoom the base map leaves it out', async () => {
  const at = async (z) => decode((await fetchTile(`/tiles/basemap/${z}/${lon2tile(121.56, z)}/${lat2tile(25.0335, z)}.mvt`)).body);
  const z12 = await at(12);
  assert.deepEqual(Object.keys(z12.layers).filter((l) => !l.endsWith('_label')).sort(), ['counties', 'pipelines', 'towns']);
  const z13 = await at(13);
  assert.ok(z13.layers.buildings?.length > 0, 'buildings from z13');
  assert.equal(z13.layers.cadastral, undefined);
  assert.ok((await at(14)).layers.cadastral?.length > 0, 'parcels from z14');
});

test('below z14 the pipelines part carries mains only (300 mm and more), as the style draws them', async () => {
  const diameters = async (z) => {
    const layer = decode((await fetchTile(`/tiles/pipelines/${z}/${lon2tile(121.56, z)}/${lat2tile(25.0335, z)}.mvt`)).body).layers.pipelines;
    return Array.from({ length: layer?.length ?? 0 }, (_, i) => layer.feature(i).properties.diameter_mm ?? 0);
  };
  for (const z of [12, 13]) {
    const d = await diameters(z);
    assert.ok(d.length > 0 && d.every((mm) => mm >= 300), `z${z}: ${d.filter((mm) => mm < 300).length} pipes under 300 mm of ${d.length}`);
  }
  const z14 = await diameters(14);
  assert.ok(z14.some((mm) => mm < 300) && z14.some((mm) => mm >= 300), 'from z14 every pipe');
  const style = await (await fetch(`${demo.base}/styles/basemap.json`)).json();
  assert.deepEqual(style.layers.find((l) => l.id === 'pipelines').filter, ['any', ['>=', ['zoom'], 14], ['>=', ['coalesce', ['get', 'diameter_mm'], 0], 300]]);
});

test('each town gets one label point, inside the town, in one tile of a 4×4 block', async () => {
  const z = 12;
  const x0 = lon2tile(121.56, z) - 2;
  const y0 = lat2tile(25.0335, z) - 2;
  const seen = new Map();
  for (let x = x0; x < x0 + 4; x++) {
    for (let y = y0; y < y0 + 4; y++) {
      const tile = decode((await fetchTile(`/tiles/basemap/${z}/${x}/${y}.mvt`)).body);
      const labels = tile.layers.towns_label;
      if (!labels) continue;
      for (let i = 0; i < labels.length; i++) {
        const f = labels.feature(i);
        assert.equal(f.type, 1, 'label features are points');
        const name = f.properties.name;
        assert.ok(!seen.has(name), `${name} labelled in ${seen.get(name)} and in ${x}/${y}`);
        seen.set(name, `${x}/${y}`);
        if (name === '信義區') {
          const [lon, lat] = f.toGeoJSON(x, y, z).geometry.coordinates;
          const town = storeGeoJSON('towns', "name = '信義區'").features[0];
          const ring = town.geometry.type === 'MultiPolygon' ? town.geometry.coordinates[0][0] : town.geometry.coordinates[0];
          let inside = false; // even-odd rule on the exterior ring
          for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
            const [xi, yi] = ring[i];
            const [xj, yj] = ring[j];
            if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
          }
          assert.ok(inside, `信義區 label at ${lon},${lat} is inside the town`);
        }
      }
    }
  }
  assert.ok(seen.has('信義區') && seen.size >= 5, `towns labelled: ${[...seen.keys()]}`);
});

test('TileJSON 3.0.0 for the base map and each layer', async () => {
  const tj = await (await fetch(`${demo.base}/tiles/basemap.json`)).json();
  assert.equal(tj.tilejson, '3.0.0');
  assert.equal(tj.tiles[0], `${demo.base}/tiles/basemap/{z}/{x}/{y}.mvt`);
  const ids = tj.vector_layers.map((l) => l.id);
  for (const l of ['cadastral', 'buildings', 'pipelines', 'towns', 'counties']) assert.ok(ids.includes(l), `${l} in ${ids}`);
  const [w, s, e, n] = tj.bounds;
  assert.ok(w < 121.56 && e > 121.56 && s < 25.03 && n > 25.03, `bounds ${tj.bounds}`);
  const cad = await (await fetch(`${demo.base}/tiles/cadastral.json`)).json();
  assert.equal(cad.vector_layers[0].fields.parcel_no, 'Text');
  // Each layer starts where the style starts drawing it (a zoom early for parcels).
  const zooms = Object.fromEntries(tj.vector_layers.map((l) => [l.id, l.minzoom]));
  assert.deepEqual([zooms.cadastral, zooms.buildings, zooms.pipelines, zooms.towns], [14, 13, 12, 0]);
  const catalog = await (await fetch(`${demo.base}/tiles`)).json();
  assert.ok(catalog.tiles.some((t) => t.id === 'basemap'));
});

test('bad tile requests get 4xx with a JSON reason', async () => {
  const cases = [
    ['/tiles/basemap/3/8/1.mvt', 400, 'x and y go from 0 to 7'],
    ['/tiles/basemap/99/0/0.mvt', 400, 'zoom 99'],
    ['/tiles/basemap/a/0/0.mvt', 400, "zoom 'a'"],
    ['/tiles/basemap/1/0/x.mvt', 400, "y 'x'"],
    ['/tiles/basemap/1/0/0.png', 400, '.mvt'],
    ['/tiles/nosuch/1/0/0.mvt', 404, "no vector layer named 'nosuch'"],
    ['/tiles/nosuch.json', 404, "no vector layer named 'nosuch'"],
    ['/tiles/basemap/1/-1/0.mvt', 400, "x '-1'"],
  ];
  for (const [path, status, phrase] of cases) {
    const res = await fetch(`${demo.base}${path}`);
    assert.equal(res.status, status, path);
    assert.equal(res.headers.get('content-type'), 'application/problem+json', path);
    const body = await res.json();
    assert.ok(body.detail.includes(phrase), `${path}: ${body.detail}`);
  }
});

test('the style is valid, points at this server, and its glyphs are served', async () => {
  const style = await (await fetch(`${demo.base}/styles/basemap.json`)).json();
  assert.equal(style.sources.formosa.url, `${demo.base}/tiles/basemap.json`);
  assert.ok(style.glyphs.startsWith(`${demo.base}/fonts/`));
  assert.ok(style.sources.terrain, 'terrain source kept: the demo store has a DEM');
  const { validateStyleMin } = await import('@maplibre/maplibre-gl-style-spec');
  assert.deepEqual(validateStyleMin(style), []);
  const glyphs = await fetch(`${demo.base}/fonts/${encodeURIComponent('WenQuanYi Micro Hei Regular')}/22272-22527.pbf`);
  assert.equal(glyphs.status, 200);
  assert.ok((await glyphs.arrayBuffer()).byteLength > 10_000);
  const rgb = await fetch(`${demo.base}/terrain-rgb/13/6862/3509.png`);
  assert.equal(rgb.headers.get('content-type'), 'image/png');
});
