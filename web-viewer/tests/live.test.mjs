// The disaster-response API through HTTP: OGC API Features reads, token rules for writes,
// write → read back → the very next tile shows it, precise invalidation (tiles away from
// the edit keep their cache entry), the change feed and its SSE stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { PNG } from 'pngjs';
import { startDemo } from './server.mjs';

const TOKEN = 'typhoon-2026-secret';
let demo;
before(async () => { demo = await startDemo({ FORMOSA_WRITE_TOKEN: TOKEN }); });
after(() => demo?.child.kill());

const lon2tile = (lon, z) => Math.floor(((lon + 180) / 360) * 2 ** z);
const lat2tile = (lat, z) => {
  const r = (lat * Math.PI) / 180;
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
};
const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
const incident = (lon, lat, props = {}) => ({
  type: 'Feature',
  geometry: { type: 'Point', coordinates: [lon, lat] },
  properties: { type: 'road_closure', severity: 4, description: '路樹倒塌，雙向封閉', reporter: '台北市政府消防局', ...props },
});

async function tile(path) {
  const res = await fetch(`${demo.base}${path}`);
  return { etag: res.headers.get('etag'), tile: new VectorTile(new PbfReader(Buffer.from(await res.arrayBuffer()))) };
}

test('OGC API Features: landing, conformance, collections, items with bbox, filters and paging', async () => {
  const landing = await (await fetch(`${demo.base}/ogcapi`)).json();
  assert.ok(landing.links.some((l) => l.rel === 'conformance') && landing.links.some((l) => l.rel === 'data'));
  const conf = await (await fetch(`${demo.base}/ogcapi/conformance`)).json();
  assert.ok(conf.conformsTo.includes('http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core'));
  const cols = await (await fetch(`${demo.base}/ogcapi/collections`)).json();
  for (const id of ['cadastral', 'buildings', 'pipelines', 'incidents', 'towns']) assert.ok(cols.collections.some((c) => c.id === id), id);
  const res = await fetch(`${demo.base}/ogcapi/collections/pipelines/items?bbox=121.54,25.02,121.57,25.05&utility=water&limit=5`);
  assert.equal(res.headers.get('content-type'), 'application/geo+json');
  const page = await res.json();
  assert.equal(page.type, 'FeatureCollection');
  assert.equal(page.numberReturned, 5);
  assert.ok(page.numberMatched > 5);
  assert.ok(page.features.every((f) => f.properties.utility === 'water' && f.geometry.type === 'MultiLineString'));
  const next = page.links.find((l) => l.rel === 'next');
  const page2 = await (await fetch(next.href)).json();
  assert.equal(page2.features.length, 5);
  assert.ok(!page2.features.some((f) => page.features.some((g) => g.id === f.id)), 'pages do not overlap');
  const one = await (await fetch(`${demo.base}/ogcapi/collections/pipelines/items/${page.features[0].id}`)).json();
  assert.deepEqual(one.properties, page.features[0].properties);
  for (const [path, status, text] of [
    ['/ogcapi/collections/nosuch/items', 404, "'nosuch'"],
    ['/ogcapi/collections/pipelines/items?bbox=1,2,3', 400, 'four numbers'],
    ['/ogcapi/collections/pipelines/items?bbox=5,5,1,1', 400, 'minimum'],
    ['/ogcapi/collections/pipelines/items?limit=0', 400, 'limit'],
    ['/ogcapi/collections/pipelines/items?colour=red', 400, "unknown query parameter 'colour'"],
    ['/ogcapi/collections/pipelines/items/abc', 400, "'abc'"],
    ['/ogcapi/collections/pipelines/items/999999', 404, '999999'],
  ]) {
    const r = await fetch(`${demo.base}${path}`);
    assert.equal(r.status, status, path);
    assert.equal(r.headers.get('content-type'), 'application/problem+json', path);
    assert.ok((await r.json()).detail.includes(text), path);
  }
});

test('writes need the bearer token: none → 401, wrong → 403; bad bodies → 400', async () => {
  const url = `${demo.base}/ogcapi/collections/incidents/items`;
  const body = JSON.stringify(incident(121.56, 25.03));
  const none = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate'), /Bearer/);
  const wrong = await fetch(url, { method: 'POST', body, headers: { ...auth, Authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 403);
  for (const [payload, text] of [
    ['{not json', 'not valid JSON'],
    [JSON.stringify({ type: 'FeatureCollection', features: [] }), 'GeoJSON Feature'],
    [JSON.stringify(incident(200, 25)), 'not a WGS84'],
    [JSON.stringify(incident(121.5, 25, { severity: 9 })), 'severity'],
    [JSON.stringify(incident(121.5, 25, { type: '' })), 'needs a "type"'],
    [JSON.stringify(incident(121.5, 25, { time: 'yesterday' })), 'RFC 3339'],
  ]) {
    const r = await fetch(url, { method: 'POST', body: payload, headers: auth });
    assert.equal(r.status, 400, payload);
    assert.ok((await r.json()).detail.includes(text), `${payload} → ${text}`);
  }
  const parcels = await fetch(`${demo.base}/ogcapi/collections/cadastral/items`, { method: 'POST', body, headers: auth });
  assert.equal(parcels.status, 405);
  const pipeGeom = await fetch(`${demo.base}/ogcapi/collections/pipelines/items/1`, { method: 'PATCH', body: JSON.stringify({ properties: { utility: 'gas' } }), headers: auth });
  assert.equal(pipeGeom.status, 403);
});

test('an incident written is read back, shown by the very next tile, and only its tiles are dropped', async () => {
  const [lon, lat] = [121.5645, 25.0340];
  const z = 15;
  const here = `/tiles/basemap/${z}/${lon2tile(lon, z)}/${lat2tile(lat, z)}.mvt`;
  const far = `/tiles/basemap/${z}/${lon2tile(lon, z) + 3}/${lat2tile(lat, z)}.mvt`;
  // Warm both tiles into the cache.
  const before = await tile(here);
  const farBefore = await tile(far);
  assert.equal(before.tile.layers.incidents, undefined, 'no incident here yet');

  const feed = await (await fetch(`${demo.base}/changes?since=0`)).json();
  const created = await fetch(`${demo.base}/ogcapi/collections/incidents/items`, { method: 'POST', body: JSON.stringify(incident(lon, lat)), headers: auth });
  assert.equal(created.status, 201);
  const f = await created.json();
  assert.equal(created.headers.get('location'), `${demo.base}/ogcapi/collections/incidents/items/${f.id}`);
  assert.equal(f.properties.description, '路樹倒塌，雙向封閉');
  assert.match(f.properties.time, /^\d{4}-\d\d-\d\dT/);
  const read = await (await fetch(created.headers.get('location'))).json();
  assert.deepEqual(read.geometry, { type: 'Point', coordinates: [lon, lat] });

  const after1 = await tile(here);
  const layer = after1.tile.layers.incidents;
  assert.ok(layer && layer.length === 1, 'the next tile request shows the incident');
  assert.equal(layer.feature(0).properties.severity, 4);
  assert.notEqual(after1.etag, before.etag);
  assert.equal((await tile(far)).etag, farBefore.etag, 'a tile away from the edit kept its cached copy');

  // The change feed has it, with where it is.
  const changes = await (await fetch(`${demo.base}/changes?since=${feed.last}`)).json();
  assert.equal(changes.changes.length, 1);
  assert.deepEqual([changes.changes[0].op, changes.changes[0].fid, changes.changes[0].layer], ['insert', f.id, 'incidents']);

  // PATCH moves it; PUT replaces it; DELETE removes it — each seen by the next tile.
  const moved = await fetch(`${demo.base}/ogcapi/collections/incidents/items/${f.id}`, {
    method: 'PATCH', headers: auth, body: JSON.stringify({ geometry: { type: 'Point', coordinates: [lon + 0.03, lat] }, properties: { severity: 5 } }),
  });
  assert.equal(moved.status, 200);
  assert.equal((await moved.json()).properties.description, '路樹倒塌，雙向封閉', 'PATCH keeps what it does not name');
  assert.equal((await tile(here)).tile.layers.incidents, undefined, 'gone from the old place');
  const put = await fetch(`${demo.base}/ogcapi/collections/incidents/items/${f.id}`, { method: 'PUT', headers: auth, body: JSON.stringify(incident(lon, lat, { type: 'flood', severity: 2 })) });
  assert.equal(put.status, 200);
  assert.equal((await tile(here)).tile.layers.incidents.feature(0).properties.type, 'flood');
  const del = await fetch(`${demo.base}/ogcapi/collections/incidents/items/${f.id}`, { method: 'DELETE', headers: auth });
  assert.equal(del.status, 204);
  assert.equal((await tile(here)).tile.layers.incidents, undefined);
  assert.equal((await fetch(`${demo.base}/ogcapi/collections/incidents/items/${f.id}`)).status, 404);
  const all = await (await fetch(`${demo.base}/changes?since=${feed.last}`)).json();
  assert.deepEqual(all.changes.map((c) => c.op), ['insert', 'update', 'update', 'delete']);
});

test('reports cluster below z16: counts add up, a new report joins its cluster on the very next tile, and WMS draws the same clusters', async () => {
  const R = 6378137;
  const HALF = Math.PI * R;
  const merc = (lon, lat) => [(lon * Math.PI / 180) * R, Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)) * R];
  const lonlat = (mx, my) => [((mx / R) * 180) / Math.PI, ((2 * Math.atan(Math.exp(my / R)) - Math.PI / 2) * 180) / Math.PI];
  const z = 13;
  const tileM = (2 * HALF) / 2 ** z;
  const cellM = tileM / 16;
  // Three reports a few metres apart around the centre of one z13 cluster cell.
  const [mx, my] = merc(121.55, 25.045);
  const [cx, cy] = [(Math.floor(mx / cellM) + 0.5) * cellM, (Math.floor(my / cellM) + 0.5) * cellM];
  const spots = [[0, 0], [15, 0], [0, -15]].map(([dx, dy]) => [cx + dx, cy + dy]);
  const [x, y] = [Math.floor((cx + HALF) / tileM), Math.floor((HALF - cy) / tileM)];
  const [x0, yTop] = [-HALF + x * tileM, HALF - y * tileM];
  const here = `/tiles/incidents/${z}/${x}/${y}.mvt`;
  const far = `/tiles/incidents/${z}/${x + 2}/${y}.mvt`;
  const inCell = (vt) => {
    const layer = vt.layers.incidents;
    const found = [];
    for (let i = 0; layer && i < layer.length; i++) {
      const f = layer.feature(i);
      const [[p]] = f.loadGeometry();
      const at = [x0 + (p.x / 4096) * tileM, yTop - (p.y / 4096) * tileM];
      if (Math.abs(at[0] - cx) <= cellM / 2 && Math.abs(at[1] - cy) <= cellM / 2) found.push({ f, at, px: [(p.x / 4096) * 512, (p.y / 4096) * 512] });
    }
    return found;
  };
  await tile(here);
  const farBefore = await tile(far);
  const ids = [];
  const post = async ([px, py], severity) => {
    const res = await fetch(`${demo.base}/ogcapi/collections/incidents/items`, { method: 'POST', body: JSON.stringify(incident(...lonlat(px, py), { severity })), headers: auth });
    assert.equal(res.status, 201);
    ids.push((await res.json()).id);
  };
  await post(spots[0], 2);
  await post(spots[1], 4);
  let [cluster, ...others] = inCell((await tile(here)).tile);
  assert.equal(others.length, 0, 'one feature for the cell');
  assert.deepEqual([cluster.f.properties.point_count, cluster.f.properties.point_count_abbreviated, cluster.f.properties.severity], [2, '2', 4]);
  assert.ok(Math.abs(cluster.at[0] - (cx + 7.5)) < tileM / 4096 + 0.5 && Math.abs(cluster.at[1] - cy) < tileM / 4096 + 0.5, 'at the mean of its reports');
  // Every report in the tile is counted once, by a cluster or on its own.
  const [w, s] = lonlat(x0, yTop - tileM);
  const [e, n] = lonlat(x0 + tileM, yTop);
  const matched = (await (await fetch(`${demo.base}/ogcapi/collections/incidents/items?bbox=${w},${s},${e},${n}&limit=1`)).json()).numberMatched;
  const counted = (vt) => { let sum = 0; for (let i = 0; i < vt.layers.incidents.length; i++) sum += vt.layers.incidents.feature(i).properties.point_count ?? 1; return sum; };
  assert.equal(counted((await tile(here)).tile), matched);
  // From z16 on, each report stands alone.
  const z16 = (await tile(`/tiles/incidents/16/${lon2tile(lonlat(...spots[0])[0], 16)}/${lat2tile(lonlat(...spots[0])[1], 16)}.mvt`)).tile.layers.incidents;
  const alone = Array.from({ length: z16.length }, (_, i) => z16.feature(i));
  assert.ok(ids.every((id) => alone.some((f) => f.id === id && f.properties.point_count === undefined)), 'z16 shows each report');

  await post(spots[2], 5);
  [cluster] = inCell((await tile(here)).tile);
  assert.deepEqual([cluster.f.properties.point_count, cluster.f.properties.severity], [3, 5], 'the very next tile counts the new report');
  assert.equal((await tile(far)).etag, farBefore.etag, 'a tile away from the report kept its cached copy');

  // WMS over the tile's own box at 512 px (MapLibre zoom 13) draws that cluster, red for severity 5.
  const bbox = [x0, yTop - tileM, x0 + tileM, yTop].join(',');
  const map = PNG.sync.read(Buffer.from(await (await fetch(`${demo.base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=incidents&STYLES=&CRS=EPSG:3857&BBOX=${bbox}&WIDTH=512&HEIGHT=512&FORMAT=image/png&TRANSPARENT=TRUE`)).arrayBuffer()));
  const [i, j] = [Math.round(cluster.px[0] - 6), Math.round(cluster.px[1] + 6)];
  const [r, g, b, a] = map.data.subarray((j * 512 + i) * 4, (j * 512 + i) * 4 + 4);
  assert.ok(r > 150 && g < 90 && b < 90 && a > 150, `the cluster's circle on the WMS map: got ${[r, g, b, a]}`);

  for (const id of ids) assert.equal((await fetch(`${demo.base}/ogcapi/collections/incidents/items/${id}`, { method: 'DELETE', headers: auth })).status, 204);
  assert.equal(inCell((await tile(here)).tile).length, 0, 'deleted: the cell is empty again');
});

test('a damaged pipe: PATCH status, and the change arrives on the SSE stream', async () => {
  const pipe = (await (await fetch(`${demo.base}/ogcapi/collections/pipelines/items?limit=1&utility=gas`)).json()).features[0];
  const controller = new AbortController();
  const res = await fetch(`${demo.base}/changes/stream`, { signal: controller.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = res.body.getReader();
  const patched = await fetch(`${demo.base}/ogcapi/collections/pipelines/items/${pipe.id}`, { method: 'PATCH', headers: auth, body: JSON.stringify({ properties: { status: 'damaged' } }) });
  assert.equal(patched.status, 200);
  const body = await patched.json();
  assert.equal(body.properties.status, 'damaged');
  assert.equal(body.properties.diameter_mm, pipe.properties.diameter_mm, 'other attributes untouched');
  let text = '';
  while (!text.includes('event: change')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  controller.abort();
  const data = JSON.parse(text.split('\n').find((l) => l.startsWith('data: ')).slice(6));
  assert.deepEqual([data.layer, data.fid, data.op], ['pipelines', pipe.id, 'update']);
});

test('a report shows on the very next WMTS tile, and tiles away from it keep their cache entry', async () => {
  const [lon, lat] = [121.5580, 25.0300];
  const z = 17;
  const [x, y] = [lon2tile(lon, z), lat2tile(lat, z)];
  const wmts = (col, row) => `${demo.base}/wmts/1.0.0/basemap/default/GoogleMapsCompatible/${z}/${row}/${col}.png`;
  // The incident's pixel in its tile.
  const n = 2 ** z;
  const px = Math.floor((((lon + 180) / 360) * n - x) * 256);
  const r = (lat * Math.PI) / 180;
  const py = Math.floor((((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n - y) * 256);
  const get = async (url) => {
    const res = await fetch(url);
    assert.equal(res.headers.get('content-type'), 'image/png');
    return { etag: res.headers.get('etag'), png: PNG.sync.read(Buffer.from(await res.arrayBuffer())) };
  };
  const at = (png, i, j) => Array.from(png.data.subarray((j * png.width + i) * 4, (j * png.width + i) * 4 + 3));
  const before = await get(wmts(x, y));
  const far = await get(wmts(x + 4, y));
  const created = await fetch(`${demo.base}/ogcapi/collections/incidents/items`, { method: 'POST', body: JSON.stringify(incident(lon, lat, { severity: 5 })), headers: auth });
  assert.equal(created.status, 201);
  const after = await get(wmts(x, y));
  assert.notEqual(after.etag, before.etag, 'the tile under the report was drawn again');
  const [red, green, blue] = at(after.png, px, py);
  assert.ok(red > 150 && green < 90 && blue < 90, `severity 5 is drawn dark red at the report: got ${[red, green, blue]}`);
  assert.equal((await get(wmts(x + 4, y))).etag, far.etag, 'a tile away from the report kept its cached copy');
  const { id } = await created.json();
  assert.equal((await fetch(`${demo.base}/ogcapi/collections/incidents/items/${id}`, { method: 'DELETE', headers: auth })).status, 204);
  assert.deepEqual(at((await get(wmts(x, y))).png, px, py), at(before.png, px, py), 'deleted: the tile is as before');
});
