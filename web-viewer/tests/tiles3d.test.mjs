// 3D Tiles 1.1 checked by independent readers: gltf-validator (Khronos) on every GLB,
// @loaders.gl/3d-tiles on tileset.json, @loaders.gl/gltf decoding EXT_structural_metadata
// property tables, compared with GDAL's reading of the store; bounding regions contain
// their children; pipes lie below the terrain at their depth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { load, parse } from '@loaders.gl/core';
import { Tiles3DLoader } from '@loaders.gl/3d-tiles';
import { GLTFLoader } from '@loaders.gl/gltf';
import validator from 'gltf-validator';
import { startDemo } from './server.mjs';

let demo;
before(async () => { demo = await startDemo(); });
after(() => demo?.child.kill());

const GEOID_N = 20;

async function tileset(layer) {
  return (await fetch(`${demo.base}/3dtiles/${layer}/tileset.json`)).json();
}

function* tiles(node, parent = null) {
  yield [node, parent];
  for (const c of node.children ?? []) yield* tiles(c, node);
}

async function glb(layer, uri) {
  const res = await fetch(`${demo.base}/3dtiles/${layer}/${uri}`);
  assert.equal(res.status, 200, uri);
  assert.equal(res.headers.get('content-type'), 'model/gltf-binary');
  return new Uint8Array(await res.arrayBuffer());
}

function storeRows(layer) {
  const out = execFileSync('ogr2ogr', ['-f', 'GeoJSON', '/vsistdout/', demo.gdal, '-sql', `SELECT fid AS store_fid, * FROM ${layer}`], { maxBuffer: 256 << 20 });
  return new Map(JSON.parse(out).features.map((f) => [f.properties.store_fid, f]));
}

/** ECEF → geodetic (degrees, metres), Bowring's method (mm-accurate near the surface). */
function geodetic([x, y, z]) {
  const a = 6378137;
  const b = 6356752.314245179;
  const e2 = 1 - (b * b) / (a * a);
  const ep2 = (a * a) / (b * b) - 1;
  const p = Math.hypot(x, y);
  const th = Math.atan2(z * a, p * b);
  const lat = Math.atan2(z + ep2 * b * Math.sin(th) ** 3, p - e2 * a * Math.cos(th) ** 3);
  const n = a / Math.sqrt(1 - e2 * Math.sin(lat) ** 2);
  return [(Math.atan2(y, x) * 180) / Math.PI, (lat * 180) / Math.PI, p / Math.cos(lat) - n];
}

/** Column-major 4×4 times (x, y, z, 1), after glTF's y-up → 3D Tiles' z-up. */
function toEcef(m, [x, y, z]) {
  const [lx, ly, lz] = [x, -z, y];
  return [0, 1, 2].map((r) => m[r] * lx + m[4 + r] * ly + m[8 + r] * lz + m[12 + r]);
}

for (const layer of ['buildings', 'pipelines']) {
  test(`${layer}: tileset.json parses, regions contain their children, errors halve to 0 at the leaves`, async () => {
    const ts = await tileset(layer);
    assert.equal(ts.asset.version, '1.1');
    const parsed = await load(`${demo.base}/3dtiles/${layer}/tileset.json`, Tiles3DLoader);
    assert.ok(parsed.root, '@loaders.gl/3d-tiles reads the tileset');
    let leaves = 0;
    for (const [t, parent] of tiles(ts.root)) {
      const r = t.boundingVolume.region;
      assert.equal(r.length, 6);
      assert.ok(r[0] <= r[2] && r[1] <= r[3] && r[4] <= r[5], `region ${r}`);
      if (parent) {
        const p = parent.boundingVolume.region;
        assert.ok(p[0] <= r[0] && p[1] <= r[1] && p[2] >= r[2] && p[3] >= r[3] && p[4] <= r[4] && p[5] >= r[5], 'child region inside parent');
        if (parent !== ts.root && t.children) assert.ok(Math.abs(parent.geometricError / t.geometricError - 2) < 1e-9, 'error halves per level');
      }
      if (!t.children) {
        assert.equal(t.geometricError, 0);
        assert.ok(t.content?.uri.endsWith('.glb'));
        assert.equal(t.transform.length, 16);
        leaves++;
      }
    }
    assert.ok(leaves >= 2, `${leaves} content tiles`);
    assert.equal(ts.extras.features, layer === 'buildings' ? 1215 : 350);
  });

  test(`${layer}: every GLB is valid glTF and its property table matches the store`, async () => {
    const ts = await tileset(layer);
    const rows = storeRows(layer);
    const seen = new Set();
    for (const [t] of tiles(ts.root)) {
      if (!t.content) continue;
      const bytes = await glb(layer, t.content.uri);
      const report = await validator.validateBytes(bytes);
      assert.equal(report.issues.numErrors, 0, JSON.stringify(report.issues.messages.filter((m) => m.severity === 0)));
      assert.equal(report.issues.numWarnings, 0, JSON.stringify(report.issues.messages.filter((m) => m.severity === 1)));
      const gltf = await parse(bytes.buffer, GLTFLoader, { gltf: { loadBuffers: true } });
      const table = gltf.json.extensions.EXT_structural_metadata.propertyTables[0];
      const props = table.properties;
      assert.ok(table.count > 0 && table.count <= 1000, `${table.count} features (cap 1000)`);
      for (const prim of gltf.json.meshes[0].primitives) {
        const ids = prim.extensions.EXT_mesh_features.featureIds[0];
        assert.equal(ids.featureCount, table.count);
        // Feature IDs in range: read the accessor through the decoded buffer.
        const acc = gltf.json.accessors[prim.attributes._FEATURE_ID_0];
        const view = gltf.json.bufferViews[acc.bufferView];
        const buf = gltf.buffers[view.buffer];
        const values = new Float32Array(buf.arrayBuffer, buf.byteOffset + view.byteOffset, acc.count);
        assert.ok(values.every((v) => Number.isInteger(v) && v >= 0 && v < table.count), 'feature ids index the table');
      }
      for (let i = 0; i < table.count; i++) {
        const fid = Number(props.fid.data[i]);
        const row = rows.get(fid);
        assert.ok(row, `fid ${fid} is in the store`);
        seen.add(fid);
        if (layer === 'buildings') {
          assert.equal(props.use.data[i], row.properties.use ?? '');
          if (row.properties.height_m != null) assert.ok(Math.abs(props.height_m.data[i] - row.properties.height_m) < 1e-9);
        } else {
          assert.equal(props.utility.data[i], row.properties.utility ?? '');
          assert.ok(Math.abs(props.depth_m.data[i] - row.properties.depth_m) < 1e-9);
        }
      }
    }
    assert.equal(seen.size, rows.size, 'every feature is in exactly one content tile');
  });
}

test('pipes lie at their depth below the terrain (pyramid + geoid, as GDAL reads it)', async () => {
  const ts = await tileset('pipelines');
  const leaf = [...tiles(ts.root)].map(([t]) => t).find((t) => t.content);
  const bytes = await glb('pipelines', leaf.content.uri);
  const gltf = await parse(bytes.buffer, GLTFLoader, { gltf: { loadBuffers: true } });
  const props = gltf.json.extensions.EXT_structural_metadata.propertyTables[0].properties;
  const samples = [];
  for (const prim of gltf.json.meshes[0].primitives) {
    const read = (accIndex, comps) => {
      const acc = gltf.json.accessors[accIndex];
      const view = gltf.json.bufferViews[acc.bufferView];
      const buf = gltf.buffers[view.buffer];
      return new Float32Array(buf.arrayBuffer, buf.byteOffset + view.byteOffset, acc.count * comps);
    };
    const pos = read(prim.attributes.POSITION, 3);
    const fid = read(prim.attributes._FEATURE_ID_0, 1);
    for (let v = 0; v < fid.length; v += 97) samples.push([toEcef(leaf.transform, [pos[3 * v], pos[3 * v + 1], pos[3 * v + 2]]), fid[v]]);
  }
  assert.ok(samples.length > 10, `${samples.length} vertices sampled`);
  const points = samples.map(([ecef]) => geodetic(ecef));
  const ground = execFileSync('gdallocationinfo', ['-valonly', '-wgs84', `GPKG:${demo.terrainGpkg}:terrain`], {
    input: points.map(([lon, lat]) => `${lon} ${lat}`).join('\n'),
  }).toString().trim().split('\n').map(Number);
  for (let k = 0; k < samples.length; k++) {
    const f = samples[k][1];
    const depth = props.depth_m.data[f];
    const r = props.diameter_mm.data[f] / 2000;
    const g = ground[k] + GEOID_N;
    const h = points[k][2];
    // Crown at ground − depth, invert at ground − depth − 2r; 1.5 m for GDAL's nearest
    // pixel against the bilinear surface the server samples, and mitres at bends.
    assert.ok(h <= g - depth + 1.5 && h >= g - depth - 2 * r * 2 - 1.5, `vertex of pipe ${f}: ${h.toFixed(2)} m, ground ${g.toFixed(2)} m, depth ${depth} m`);
  }
});

test('bad 3D Tiles requests get 404/400 with a JSON reason', async () => {
  for (const [p, status, text] of [
    ['/3dtiles/cadastral/tileset.json', 404, 'buildings or pipelines'],
    ['/3dtiles/nosuch/tileset.json', 404, "'nosuch'"],
    ['/3dtiles/buildings/1/0/0.glb', 404, 'not in the'],
    ['/3dtiles/buildings/15/x/0.glb', 400, "x 'x'"],
    ['/3dtiles/buildings/15/0/0.png', 400, '.glb'],
  ]) {
    const res = await fetch(`${demo.base}${p}`);
    assert.equal(res.status, status, p);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.ok((await res.json()).detail.includes(text), `${p}`);
  }
});
