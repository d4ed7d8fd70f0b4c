// Many nodes, one truth (runs on PostGIS only: FORMOSA_TEST_POSTGIS): two Formosa nodes
// over one database. A report POSTed to node A is in node B's next MVT, WMTS and 3D tile
// and on B's SSE stream; both nodes give the same change feed; tiles far from the edit
// keep their ETag on both; and both nodes answer the same bytes afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { startDemo, startServe } from './server.mjs';

const TOKEN = 'typhoon-2026-secret';
const onPostgis = Boolean(process.env.FORMOSA_TEST_POSTGIS);
let a;
let b;
before(async () => {
  if (!onPostgis) return;
  a = await startDemo({ FORMOSA_WRITE_TOKEN: TOKEN });
  b = await startServe(a.store, { FORMOSA_WRITE_TOKEN: TOKEN });
});
after(() => {
  a?.child.kill();
  b?.child.kill();
});

const lon2tile = (lon, z) => Math.floor(((lon + 180) / 360) * 2 ** z);
const lat2tile = (lat, z) => {
  const r = (lat * Math.PI) / 180;
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
};
const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
const bytes = async (url) => {
  const res = await fetch(url);
  return { status: res.status, etag: res.headers.get('etag'), body: Buffer.from(await res.arrayBuffer()) };
};
const incidentsIn = (body) => {
  const t = new VectorTile(new PbfReader(body));
  const layer = t.layers.incidents;
  return layer ? Array.from({ length: layer.length }, (_, i) => layer.feature(i).properties) : [];
};

/** Reads SSE `change` events from a node until `want` returns true (or 10 s pass). */
async function changesOn(node, want) {
  const controller = new AbortController();
  const res = await fetch(`${node.base}/changes/stream`, { signal: controller.signal });
  const reader = res.body.getReader();
  const seen = [];
  const done = (async () => {
    let text = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) return;
      text += Buffer.from(value).toString();
      let cut;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const event = text.slice(0, cut);
        text = text.slice(cut + 2);
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        if (event.includes('event: change') && data) seen.push(JSON.parse(data.slice(6)));
        if (want(seen)) return;
      }
    }
  })();
  const timeout = new Promise((resolve) => setTimeout(resolve, 10000));
  return { seen, finished: Promise.race([done, timeout]).finally(() => controller.abort()) };
}

test('a report written to node A is in node B\'s next MVT and WMTS tile and SSE stream; far tiles keep their ETag', { skip: !onPostgis && 'runs on PostGIS (FORMOSA_TEST_POSTGIS)' }, async () => {
  const [lon, lat] = [121.5601, 25.0342];
  const z = 16;
  const [x, y] = [lon2tile(lon, z), lat2tile(lat, z)];
  const mvt = (node, dx = 0) => `${node.base}/tiles/basemap/${z}/${x + dx}/${y}.mvt`;
  const wmts = (node, dx = 0) => `${node.base}/wmts/1.0.0/basemap/default/GoogleMapsCompatible/${z}/${y}/${x + dx}.png`;
  // Warm both nodes' caches, here and far away (20 tiles east).
  const before = {};
  for (const [name, node] of [['a', a], ['b', b]]) {
    before[name] = { mvt: await bytes(mvt(node)), wmts: await bytes(wmts(node)), farMvt: await bytes(mvt(node, 20)), farWmts: await bytes(wmts(node, 20)) };
  }
  assert.deepEqual(before.a.mvt.body, before.b.mvt.body, 'two nodes over one database answer the same tile');
  const stream = await changesOn(b, (seen) => seen.some((c) => c.layer === 'incidents'));
  const res = await fetch(`${a.base}/ogcapi/collections/incidents/items`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { type: 'road_closure', severity: 4, description: '多節點測試：路樹倒塌', reporter: '台北市政府消防局' } }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const written = await res.json();
  await stream.finished;
  assert.deepEqual(stream.seen.filter((c) => c.layer === 'incidents').map((c) => [c.op, c.fid]), [['insert', written.id]], 'node B streamed the change node A committed');
  // The change is on B by the time B streamed it: its very next tiles show it.
  const afterB = incidentsIn((await bytes(mvt(b))).body);
  assert.ok(afterB.some((p) => p.description === '多節點測試：路樹倒塌'), `node B's next MVT shows the report: ${JSON.stringify(afterB)}`);
  const wmtsB = await bytes(wmts(b));
  assert.notDeepEqual(wmtsB.body, before.b.wmts.body, "node B's next WMTS tile is drawn anew");
  assert.deepEqual(wmtsB.body, (await bytes(wmts(a))).body, 'both nodes draw the same WMTS tile after the edit');
  for (const [name, node] of [['a', a], ['b', b]]) {
    assert.equal((await bytes(mvt(node, 20))).etag, before[name].farMvt.etag, `node ${name}: a far MVT tile kept its ETag`);
    assert.equal((await bytes(wmts(node, 20))).etag, before[name].farWmts.etag, `node ${name}: a far WMTS tile kept its ETag`);
  }
  const feedA = await (await fetch(`${a.base}/changes?since=0`)).json();
  const feedB = await (await fetch(`${b.base}/changes?since=0`)).json();
  assert.deepEqual(feedB, feedA, 'the same change feed on every node');
  assert.ok(feedA.changes.some((c) => c.fid === written.id && c.layer === 'incidents'));
});

test("a damaged pipe PATCHed on node B is in node A's next 3D tiles, byte for byte what B serves", { skip: !onPostgis && 'runs on PostGIS (FORMOSA_TEST_POSTGIS)' }, async () => {
  const contents = async (node) => {
    const tileset = await (await fetch(`${node.base}/3dtiles/pipelines/tileset.json`)).json();
    const uris = [];
    const walk = (t) => {
      if (t.content?.uri) uris.push(t.content.uri);
      (t.children ?? []).forEach(walk);
    };
    walk(tileset.root);
    const out = new Map();
    for (const uri of uris.sort()) out.set(uri, (await bytes(`${node.base}/3dtiles/pipelines/${uri}`)).body);
    return out;
  };
  const beforeA = await contents(a);
  const pipe = (await (await fetch(`${b.base}/ogcapi/collections/pipelines/items?limit=1&utility=gas`)).json()).features[0];
  const patched = await fetch(`${b.base}/ogcapi/collections/pipelines/items/${pipe.id}`, { method: 'PATCH', headers: auth, body: JSON.stringify({ properties: { status: 'damaged' } }) });
  assert.equal(patched.status, 200);
  // Node A learns of it through the feed (LISTEN/NOTIFY): poll its item for at most 5 s.
  let seenOnA;
  for (let i = 0; i < 50 && seenOnA !== 'damaged'; i++) {
    seenOnA = (await (await fetch(`${a.base}/ogcapi/collections/pipelines/items/${pipe.id}`)).json()).properties.status;
    if (seenOnA !== 'damaged') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(seenOnA, 'damaged', 'node A reads the pipe as damaged');
  const afterA = await contents(a);
  const afterB = await contents(b);
  assert.deepEqual([...afterA.keys()], [...afterB.keys()]);
  assert.ok([...afterA].some(([uri, glb]) => !glb.equals(beforeA.get(uri))), "a 3D tile of node A changed with B's edit");
  for (const [uri, glb] of afterA) assert.ok(glb.equals(afterB.get(uri)), `3D tile ${uri}: node A and B serve the same bytes`);
});
