// Terrain tiles decoded by independent readers and checked against the store's elevation
// pyramid as GDAL reads it (GPKG:store:terrain): quantized-mesh with @loaders.gl/terrain,
// terrain-RGB with gdallocationinfo. Heights served are ellipsoidal: the pyramid's
// orthometric heights + the configured geoid undulation (20 m by default).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from '@loaders.gl/core';
import { QuantizedMeshLoader } from '@loaders.gl/terrain';
import { startDemo } from './server.mjs';

const GEOID_N = 20;
const HALF_WORLD = Math.PI * 6378137;
let demo;
let pyramid; // { ox, oy, px, width, height, values } at the pyramid's deepest level

before(async () => {
  demo = await startDemo();
  // GDAL's reading of the pyramid's deepest level, as an ASCII grid.
  const dir = mkdtempSync(path.join(tmpdir(), 'formosa-terrain-'));
  const asc = path.join(dir, 'pyramid.asc');
  execFileSync('gdal_translate', ['-q', '-of', 'AAIGrid', `GPKG:${demo.terrainGpkg}:terrain`, asc]);
  const info = JSON.parse(execFileSync('gdalinfo', ['-json', `GPKG:${demo.terrainGpkg}:terrain`]));
  const [ox, px, , oy] = info.geoTransform;
  const [width, height] = info.size;
  const lines = readFileSync(asc, 'utf8').trim().split('\n');
  const values = lines.slice(lines.findIndex((l) => /^[-\d.]/.test(l.trim()))).flatMap((l) => l.trim().split(/\s+/).map(Number));
  assert.equal(values.length, width * height, 'AAIGrid cell count');
  pyramid = { ox, oy, px, width, height, values, nodata: info.bands[0].noDataValue };
});
after(() => demo?.child.kill());

/** Bilinear between pyramid pixel centres at Web Mercator (x, y), orthometric; null off data. */
function pyramidHeight(mx, my) {
  const gx = (mx - pyramid.ox) / pyramid.px - 0.5;
  const gy = (pyramid.oy - my) / pyramid.px - 0.5;
  const x0 = Math.floor(gx);
  const y0 = Math.floor(gy);
  let sum = 0;
  let weight = 0;
  for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
    const x = x0 + dx;
    const y = y0 + dy;
    if (x < 0 || y < 0 || x >= pyramid.width || y >= pyramid.height) return null;
    const v = pyramid.values[y * pyramid.width + x];
    if (v === pyramid.nodata) return null;
    const w = (dx ? gx - x0 : 1 - (gx - x0)) * (dy ? gy - y0 : 1 - (gy - y0));
    sum += v * w;
    weight += w;
  }
  return sum / weight;
}

const tileBounds = (z, x, y) => {
  const size = (2 * HALF_WORLD) / 2 ** z;
  return [-HALF_WORLD + x * size, HALF_WORLD - (y + 1) * size, -HALF_WORLD + (x + 1) * size, HALF_WORLD - y * size];
};
const mercX = (lon) => (lon * HALF_WORLD) / 180;
const mercY = (lat) => Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)) * 6378137;
/** XYZ tile z/x/y holding lon/lat. */
const tileAt = (lon, lat, z) => [
  z,
  Math.floor(((mercX(lon) + HALF_WORLD) / (2 * HALF_WORLD)) * 2 ** z),
  Math.floor(((HALF_WORLD - mercY(lat)) / (2 * HALF_WORLD)) * 2 ** z),
];

async function fetchMesh(z, x, yXyz, headers = {}) {
  const yTms = 2 ** z - 1 - yXyz;
  const res = await fetch(`${demo.base}/terrain/${z}/${x}/${yTms}.terrain`, { headers });
  const buf = await res.arrayBuffer();
  return { res, buf };
}

async function decodeMesh(buf, bounds) {
  return parse(buf, QuantizedMeshLoader, { 'quantized-mesh': { bounds, skirtHeight: 0 } });
}

/** Height of the decoded mesh at (mx, my), by barycentric interpolation. */
function meshHeight(mesh, mx, my) {
  const p = mesh.attributes.POSITION.value;
  const idx = mesh.indices.value;
  for (let t = 0; t < idx.length; t += 3) {
    const [a, b, c] = [idx[t], idx[t + 1], idx[t + 2]].map((i) => [p[3 * i], p[3 * i + 1], p[3 * i + 2]]);
    const d = (b[1] - c[1]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[1] - c[1]);
    const wa = ((b[1] - c[1]) * (mx - c[0]) + (c[0] - b[0]) * (my - c[1])) / d;
    const wb = ((c[1] - a[1]) * (mx - c[0]) + (a[0] - c[0]) * (my - c[1])) / d;
    const wc = 1 - wa - wb;
    if (wa >= -1e-9 && wb >= -1e-9 && wc >= -1e-9) return wa * a[2] + wb * b[2] + wc * c[2];
  }
  return null;
}

test('layer.json describes a Web Mercator TMS quantized-mesh tileset', async () => {
  const lj = await (await fetch(`${demo.base}/terrain/layer.json`)).json();
  assert.equal(lj.format, 'quantized-mesh-1.0');
  assert.equal(lj.scheme, 'tms');
  assert.equal(lj.projection, 'EPSG:3857');
  assert.equal(lj.maxzoom, 13);
  assert.equal(lj.available.length, 14);
  assert.deepEqual(lj.available[1], [{ startX: 0, startY: 0, endX: 1, endY: 1 }]);
  assert.ok(lj.extensions.includes('octvertexnormals'));
});

test('quantized-mesh heights match the pyramid (+ geoid) within the level error bound', async () => {
  // The stated bound: half of CesiumJS's geometric error for the level, ≥ 0.5 m.
  const bound = (z) => Math.max(0.5, (0.5 * (6378137 * 2 * Math.PI * 0.25)) / 65 / 2 ** z);
  for (const z of [12, 13]) {
    const [, x, y] = tileAt(121.56, 25.03, z);
    const { res, buf } = await fetchMesh(z, x, y);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.quantized-mesh');
    const bounds = tileBounds(z, x, y);
    const mesh = await decodeMesh(buf, bounds);
    const vertices = mesh.attributes.POSITION.value.length / 3;
    assert.ok(vertices > 20, `an adaptive mesh, not a flat quad: ${vertices} vertices`);
    let compared = 0;
    let worst = 0;
    for (let i = 1; i < 40; i++) {
      for (let j = 1; j < 40; j++) {
        const mx = bounds[0] + ((bounds[2] - bounds[0]) * i) / 40;
        const my = bounds[1] + ((bounds[3] - bounds[1]) * j) / 40;
        const expected = z === 13 ? pyramidHeight(mx, my) : null;
        const got = meshHeight(mesh, mx, my);
        assert.ok(got !== null, `(${mx}, ${my}) is covered by the mesh`);
        if (expected === null) continue;
        worst = Math.max(worst, Math.abs(got - (expected + GEOID_N)));
        compared++;
      }
    }
    if (z === 13) {
      console.log(`z${z}: ${vertices} vertices, worst |mesh − pyramid| ${worst.toFixed(2)} m over ${compared} points (bound ${bound(z).toFixed(2)} m)`);
      // + 0.5 m: the mesh follows the lattice through the pyramid's pixel centres, GDAL's
      // bilinear surface bends between them.
      assert.ok(compared > 200, `${compared} points compared`);
      assert.ok(worst <= bound(z) + 0.5, `worst error ${worst.toFixed(2)} m > bound ${bound(z).toFixed(2)} m at z${z}`);
    }
  }
});

test('octvertexnormals are sent when the Accept header asks, two bytes per vertex', async () => {
  const [z, x, y] = tileAt(121.56, 25.03, 13);
  const plain = await fetchMesh(z, x, y);
  const withNormals = await fetchMesh(z, x, y, { Accept: 'application/vnd.quantized-mesh;extensions=octvertexnormals-watermask,*/*;q=0.01' });
  assert.equal(withNormals.res.headers.get('content-type'), 'application/vnd.quantized-mesh;extensions=octvertexnormals');
  assert.match(withNormals.res.headers.get('vary'), /Accept/);
  const vertexCount = new DataView(plain.buf).getUint32(88, true);
  assert.equal(withNormals.buf.byteLength - plain.buf.byteLength, 1 + 4 + 2 * vertexCount);
  const ext = new DataView(withNormals.buf, plain.buf.byteLength);
  assert.equal(ext.getUint8(0), 1, 'extension id 1 = oct-encoded normals');
  // Normals of terrain near Taipei point mostly up: decode one and compare with the
  // ellipsoid normal there.
  const nx = (ext.getUint8(5) / 255) * 2 - 1;
  const ny = (ext.getUint8(6) / 255) * 2 - 1;
  let v = [nx, ny, 1 - Math.abs(nx) - Math.abs(ny)];
  if (v[2] < 0) v = [(1 - Math.abs(ny)) * Math.sign(nx || 1), (1 - Math.abs(nx)) * Math.sign(ny || 1), v[2]];
  const len = Math.hypot(...v);
  const lon = (121.56 * Math.PI) / 180;
  const lat = (25.03 * Math.PI) / 180;
  const up = [Math.cos(lat) * Math.cos(lon), Math.cos(lat) * Math.sin(lon), Math.sin(lat)];
  const cos = (v[0] * up[0] + v[1] * up[1] + v[2] * up[2]) / len;
  assert.ok(cos > 0.8, `normal within ~37° of up (cos ${cos.toFixed(3)})`);
});

test('terrain-RGB decodes to the pyramid (+ geoid) within 0.1 m', async () => {
  const [z, x, y] = tileAt(121.56, 25.03, 13);
  const res = await fetch(`${demo.base}/terrain-rgb/${z}/${x}/${y}.png`);
  assert.equal(res.headers.get('content-type'), 'image/png');
  const dir = mkdtempSync(path.join(tmpdir(), 'formosa-rgb-'));
  const png = path.join(dir, 'rgb.png');
  writeFileSync(png, Buffer.from(await res.arrayBuffer()));
  const b = tileBounds(z, x, y);
  const px = (b[2] - b[0]) / 256;
  let compared = 0;
  const points = [];
  for (let row = 8; row < 256; row += 24) for (let col = 8; col < 256; col += 24) points.push([col, row]);
  const out = execFileSync('gdallocationinfo', ['-valonly', png], { input: points.map((p) => p.join(' ')).join('\n') }).toString().trim().split('\n').map(Number);
  for (let k = 0; k < points.length; k++) {
    const [col, row] = points[k];
    const [r, g, bl] = out.slice(3 * k, 3 * k + 3);
    const decoded = -10000 + (r * 65536 + g * 256 + bl) * 0.1;
    const expected = pyramidHeight(b[0] + (col + 0.5) * px, b[3] - (row + 0.5) * px);
    if (expected === null) {
      assert.ok(Math.abs(decoded - GEOID_N) <= 0.1, `outside the DEM: sea level (${GEOID_N} m ellipsoidal), got ${decoded}`);
      continue;
    }
    assert.ok(Math.abs(decoded - (expected + GEOID_N)) <= 0.1, `pixel ${col},${row}: ${decoded} vs ${expected + GEOID_N}`);
    compared++;
  }
  assert.ok(compared > 20, `${compared} pixels compared`);
});

test('bad terrain requests get 4xx with a JSON reason, never a broken tile', async () => {
  for (const [p, status, text] of [
    ['/terrain/99/0/0.terrain', 400, 'zoom 99'],
    ['/terrain/2/4/0.terrain', 400, 'x and y go from 0 to 3'],
    ['/terrain/2/0/x.terrain', 400, "y 'x'"],
    ['/terrain/2/0/0.png', 400, '.terrain'],
  ]) {
    const res = await fetch(`${demo.base}${p}`);
    assert.equal(res.status, status, p);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.ok((await res.json()).detail.includes(text), p);
  }
});
