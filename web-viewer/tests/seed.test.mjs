// `formosa seed` writes PMTiles and MBTiles that other readers open (the pmtiles npm
// reader, sqlite3, GDAL's MBTiles driver), holding exactly the tiles the server answers:
// vector tiles, and rendered PNG tiles equal to the WMTS ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PMTiles } from 'pmtiles';
import { formosaBin, repo, startDemo } from './server.mjs';

let demo;
let dir;
before(async () => {
  demo = await startDemo();
  dir = mkdtempSync(path.join(tmpdir(), 'formosa-seed-'));
});
after(() => demo?.child.kill());

const BBOX = '121.55,25.02,121.57,25.04';
const seed = (out, ...extra) => execFileSync(formosaBin, ['--store', demo.store, 'seed', '--bbox', BBOX, '--zoom', '13-16', ...extra, out]).toString();

async function serverTile(z, x, y) {
  const res = await fetch(`${demo.base}/tiles/basemap/${z}/${x}/${y}.mvt`, { headers: { 'Accept-Encoding': 'identity' } });
  return Buffer.from(await res.arrayBuffer());
}

/** A pmtiles Source over a file read into memory. */
class BufferSource {
  constructor(buf) { this.buf = buf; }
  getKey() { return 'file'; }
  async getBytes(offset, length) {
    return { data: this.buf.buffer.slice(this.buf.byteOffset + offset, this.buf.byteOffset + offset + length) };
  }
}

test('PMTiles: header, metadata and every tile equal to the server\'s', async () => {
  const out = path.join(dir, 'taipei.pmtiles');
  assert.match(seed(out), /tiles written/);
  const archive = new PMTiles(new BufferSource(readFileSync(out)));
  const header = await archive.getHeader();
  assert.equal(header.tileType, 1, 'MVT');
  assert.equal(header.tileCompression, 2, 'gzip');
  assert.deepEqual([header.minZoom, header.maxZoom], [13, 16]);
  assert.ok(header.numAddressedTiles > 20, `${header.numAddressedTiles} tiles`);
  const meta = await archive.getMetadata();
  assert.ok(meta.vector_layers.some((l) => l.id === 'cadastral'));
  let compared = 0;
  for (const z of [13, 15, 16]) {
    const n = 2 ** z;
    const x = Math.floor(((121.56 + 180) / 360) * n);
    const r = (25.03 * Math.PI) / 180;
    const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
    const t = await archive.getZxy(z, x, y);
    assert.ok(t, `tile ${z}/${x}/${y} in the archive`);
    assert.deepEqual(Buffer.from(t.data), await serverTile(z, x, y), `tile ${z}/${x}/${y} equals the server's`);
    compared++;
  }
  assert.equal(compared, 3);
  assert.equal(await archive.getZxy(16, 0, 0), undefined, 'nothing outside the box');
});

test('MBTiles: sqlite3 and GDAL read it; tiles equal the server\'s', async () => {
  const out = path.join(dir, 'taipei.mbtiles');
  seed(out);
  const format = execFileSync('sqlite3', [out, "SELECT value FROM metadata WHERE name = 'format'"]).toString().trim();
  assert.equal(format, 'pbf');
  const z = 15;
  const x = Math.floor(((121.56 + 180) / 360) * 2 ** z);
  const r = (25.03 * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
  const hex = execFileSync('sqlite3', [out, `SELECT hex(tile_data) FROM tiles WHERE zoom_level = ${z} AND tile_column = ${x} AND tile_row = ${2 ** z - 1 - y}`]).toString().trim();
  assert.ok(hex.length > 100, 'tile row present (TMS row order)');
  assert.deepEqual(gunzipSync(Buffer.from(hex, 'hex')), await serverTile(z, x, y));
  const info = execFileSync('ogrinfo', ['-ro', '-so', out]).toString();
  assert.match(info, /using driver `MBTiles' successful/);
  assert.match(info, /cadastral/);
});

test('rendered PNG tiles: GDAL reads the MBTiles as a raster; tiles equal the server\'s WMTS tiles', async () => {
  const out = path.join(dir, 'basemap-png.mbtiles');
  // Run where the server runs: the style comes from ./styles (the [server] styles_dir).
  assert.match(execFileSync(formosaBin, ['--store', demo.store, 'seed', '--bbox', '121.558,25.028,121.562,25.032', '--zoom', '16-17', '--tiles', 'raster:basemap', out], { cwd: repo }).toString(), /tiles written/);
  assert.equal(execFileSync('sqlite3', [out, "SELECT value FROM metadata WHERE name = 'format'"]).toString().trim(), 'png');
  const rows = execFileSync('sqlite3', [out, 'SELECT zoom_level, tile_column, tile_row, hex(tile_data) FROM tiles WHERE zoom_level = 17']).toString().trim().split('\n');
  assert.ok(rows.length >= 4, `${rows.length} z17 tiles`);
  for (const row of rows) {
    const [z, x, tmsRow, hex] = row.split('|');
    const y = 2 ** Number(z) - 1 - Number(tmsRow);
    const res = await fetch(`${demo.base}/wmts/1.0.0/basemap/default/GoogleMapsCompatible/${z}/${y}/${x}.png`);
    assert.deepEqual(Buffer.from(hex, 'hex'), Buffer.from(await res.arrayBuffer()), `tile ${z}/${x}/${y}`);
  }
  const info = execFileSync('gdalinfo', [out]).toString();
  assert.match(info, /Driver: MBTiles/);
  assert.match(info, /Band 3/);
  const bad = spawnSync(formosaBin, ['--store', demo.store, 'seed', '--bbox', BBOX, '--zoom', '16', '--tiles', 'raster:nosuch', path.join(dir, 'f.mbtiles')], { cwd: repo });
  assert.ok(bad.status !== 0 && bad.stderr.toString().includes("no map layer named 'nosuch'"), bad.stderr.toString());
});

test('bad seed requests fail with one line and leave no file', () => {
  for (const [args, text] of [
    [['--bbox', '121.5,25.0,121.6', '--zoom', '10-12', path.join(dir, 'a.pmtiles')], 'four numbers'],
    [['--bbox', '121.6,25.0,121.5,25.1', '--zoom', '10-12', path.join(dir, 'b.pmtiles')], 'west must be less than east'],
    [['--bbox', BBOX, '--zoom', '16-10', path.join(dir, 'c.pmtiles')], 'must not be above'],
    [['--bbox', BBOX, '--zoom', '10-12', '--tiles', 'nosuch', path.join(dir, 'd.pmtiles')], "no vector layer named 'nosuch'"],
    [['--bbox', BBOX, '--zoom', '10-12', path.join(dir, 'e.zip')], '.pmtiles or .mbtiles'],
  ]) {
    const r = spawnSync(formosaBin, ['--store', demo.store, 'seed', ...args]);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.ok(r.stderr.toString().includes(text), `${args.join(' ')}: ${r.stderr}`);
    assert.ok(!existsSync(args.at(-1)), `no ${args.at(-1)} left behind`);
  }
});
