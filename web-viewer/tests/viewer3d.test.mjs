// The 3D page in a real browser (Debian's Chromium, headless, software GL): CesiumJS from
// npm loads Formosa's quantized-mesh terrain with no token and no internet, and the terrain
// height it samples at a known point is the pyramid's (as GDAL reads the store) plus the
// geoid undulation, within the z13 error bound. The 2D and 3D pages link to each other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, repo, startDemo } from './server.mjs';

let demo;
let browser;

before(async () => {
  demo = await startDemo();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  demo?.child.kill();
});

test('CesiumJS loads Formosa terrain and samples the DEM height at 信義區', async () => {
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  const external = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(demo.base) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${demo.base}/viewer/3d.html#121.5600/25.0300/2500`);
  await page.waitForFunction(() => window.formosa3d, null, { timeout: 60_000 });
  const [lon, lat] = [121.56, 25.03];
  const sampled = await page.evaluate(async ([lon, lat]) => {
    const { Cesium, ready } = window.formosa3d;
    const terrain = await ready;
    if (!terrain) return null;
    const [p] = await Cesium.sampleTerrainMostDetailed(terrain, [Cesium.Cartographic.fromDegrees(lon, lat)]);
    return p.height;
  }, [lon, lat]);
  assert.ok(sampled !== null, 'terrain provider loaded');
  // GDAL's reading of the store's pyramid at the same point (orthometric).
  const orthometric = Number(execFileSync('gdallocationinfo', ['-valonly', '-wgs84', `GPKG:${demo.terrainGpkg}:terrain`, String(lon), String(lat)]).toString().trim());
  const expected = orthometric + 20;
  // z13 bound 9.41 m, plus half a 19 m pixel of slope between GDAL's nearest pixel and the mesh.
  assert.ok(Math.abs(sampled - expected) <= 9.41 + 5, `Cesium sampled ${sampled.toFixed(2)} m, pyramid + geoid ${expected.toFixed(2)} m`);
  // Let the globe draw, then keep a screenshot.
  await page.waitForFunction(() => window.formosa3d.viewer.scene.globe.tilesLoaded, null, { timeout: 60_000 });
  mkdirSync(path.join(repo, 'target'), { recursive: true });
  await page.screenshot({ path: path.join(repo, 'target/viewer-3d.png') });
  assert.deepEqual(external, [], 'nothing requested from outside this server');
  assert.deepEqual(errors, []);
  // The 2D link carries the position.
  const href = await page.$eval('#to2d', (a) => a.getAttribute('href'));
  const [, zoom, lat2d, lon2d] = href.match(/^\/#([\d.]+)\/([\d.]+)\/([\d.]+)$/) ?? [];
  assert.ok(Math.abs(Number(lon2d) - lon) < 0.05 && Math.abs(Number(lat2d) - lat) < 0.05 && Number(zoom) > 10, `2D link ${href}`);
  await page.close();
});

test('the 2D page links to the 3D page at the same place', async () => {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  await page.goto(`${demo.base}/#15/25.0335/121.5645`);
  await page.waitForFunction(() => window.formosaMap?.loaded(), null, { timeout: 60_000 });
  const href = await page.$eval('#to3d', (a) => a.getAttribute('href'));
  const [, lon, lat, height] = href.match(/^\/viewer\/3d\.html#([\d.]+)\/([\d.]+)\/(\d+)$/) ?? [];
  assert.ok(Math.abs(Number(lon) - 121.5645) < 1e-3 && Math.abs(Number(lat) - 25.0335) < 1e-3, href);
  assert.ok(Number(height) > 500 && Number(height) < 3000, `height ${height} for z15`);
  await page.close();
});

test('buildings and pipes load as 3D Tiles and a click picks them with their attributes', async () => {
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${demo.base}/viewer/3d.html#121.5600/25.0300/2500`);
  await page.waitForFunction(() => window.formosa3d, null, { timeout: 60_000 });
  const names = await page.evaluate(async () => Object.keys(await window.formosa3d.layersReady).sort());
  assert.deepEqual(names, ['buildings', 'pipelines']);
  // Fly over the first content tile of each tileset, wait for it, click its middle.
  for (const [layer, field] of [['buildings', 'use'], ['pipelines', 'utility']]) {
    // Look straight down on the middle of one feature's first segment (pipes are thin:
    // from low above).
    const one = JSON.parse(execFileSync('ogr2ogr', ['-f', 'GeoJSON', '/vsistdout/', demo.gdal, layer, '-limit', '1']));
    const coords = JSON.stringify(one.features[0].geometry.coordinates).match(/-?[\d.]+,-?[\d.]+/g).map((p) => p.split(',').map(Number));
    const target = [(coords[0][0] + coords[1][0]) / 2, (coords[0][1] + coords[1][1]) / 2];
    const result = await page.evaluate(async ([layer, target]) => {
      const { viewer, Cesium, tilesets } = window.formosa3d;
      const scene = viewer.scene;
      // Pipes are underground: look at them with the ground hidden, as the underground
      // mode's translucent globe would show them.
      scene.globe.show = layer !== 'pipelines';
      Object.entries(tilesets).forEach(([name, t]) => { t.show = name === layer; });
      const [ground] = await Cesium.sampleTerrainMostDetailed(viewer.terrainProvider, [Cesium.Cartographic.fromDegrees(...target)]);
      viewer.camera.setView({
        destination: Cesium.Cartesian3.fromDegrees(target[0], target[1], ground.height + (layer === 'pipelines' ? 25 : 300)),
        orientation: { heading: 0, pitch: -Math.PI / 2, roll: 0 },
      });
      const ts = tilesets[layer];
      // The next frames request what this view needs; wait until all of it is loaded.
      await new Promise((resolve) => {
        const off = ts.allTilesLoaded.addEventListener(() => { off(); resolve(); });
        setTimeout(resolve, 30_000);
      });
      await new Promise((r) => setTimeout(r, 500));
      // Try a grid of screen points until one hits a feature.
      const canvas = scene.canvas;
      for (let y = 0.4; y <= 0.6; y += 0.01) {
        for (let x = 0.4; x <= 0.6; x += 0.01) {
          const picked = scene.pick(new Cesium.Cartesian2(canvas.clientWidth * x, canvas.clientHeight * y));
          if (picked instanceof Cesium.Cesium3DTileFeature && picked.tileset === ts) {
            return { fid: Number(picked.getProperty('fid')), ids: picked.getPropertyIds(), at: [x, y] };
          }
        }
      }
      return null;
    }, [layer, target]);
    if (!result) await page.screenshot({ path: path.join(repo, `target/viewer-3d-${layer}-not-picked.png`) });
    assert.ok(result, `a ${layer} feature was picked`);
    assert.ok(result.ids.includes(field), `${layer} properties ${result.ids}`);
    // Click there: the info box names the feature and shows its attributes.
    const box = await page.$('#map canvas');
    const bb = await box.boundingBox();
    await page.mouse.click(bb.x + bb.width * result.at[0], bb.y + bb.height * result.at[1]);
    const title = await page.waitForFunction(() => window.formosa3d.viewer.selectedEntity?.name, null, { timeout: 10_000 });
    assert.match(await title.jsonValue(), new RegExp(`#${result.fid}$`));
    if (layer === 'buildings') await page.screenshot({ path: path.join(repo, 'target/viewer-3d-buildings.png') });
    else await page.screenshot({ path: path.join(repo, 'target/viewer-3d-pipes.png') });
  }
  assert.deepEqual(errors, []);
  await page.close();
});

/**
 * Opens `url` in a fresh page and records what a user would see in the console: console
 * errors, uncaught exceptions, failed requests and responses with status ≥ 400.
 */
async function cleanLoad(url, loaded) {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location()?.url ?? ''})`); });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`); });
  await page.goto(url);
  await page.waitForFunction(loaded, null, { timeout: 60_000 });
  // The icon the page links to, as the browser fetches it for the tab.
  const icon = await page.evaluate(async () => {
    const href = document.querySelector('link[rel="icon"]')?.href;
    if (!href) return null;
    const r = await fetch(href);
    return { href, status: r.status, type: r.headers.get('content-type'), bytes: (await r.arrayBuffer()).byteLength };
  });
  const title = await page.title();
  await page.close();
  return { problems, icon, title };
}

test('a clean load of the 2D and the 3D page has no console error and no 404, a title and an icon', async () => {
  const pages = [
    [`${demo.base}/#16/25.0335/121.5620`, () => window.formosaMap?.loaded() && window.formosaMap.areTilesLoaded(), /2D/],
    [`${demo.base}/viewer/3d.html#121.5600/25.0300/2500`, () => window.formosa3d?.viewer.scene.globe.tilesLoaded, /3D/],
  ];
  for (const [url, loaded, titled] of pages) {
    const { problems, icon, title } = await cleanLoad(url, loaded);
    assert.deepEqual(problems, [], `${url}: console errors or failed requests`);
    assert.match(title, /^Formosa 國家共通底圖/, url);
    assert.match(title, titled, url);
    assert.ok(icon, `${url} links an icon`);
    assert.equal(icon.href, `${demo.base}/favicon.ico`);
    assert.equal(icon.status, 200, `${icon.href}`);
    assert.equal(icon.type, 'image/x-icon');
    assert.ok(icon.bytes > 100, `icon of ${icon.bytes} bytes`);
  }
});
