// The viewer in a real browser (Debian's Chromium, headless, software GL): the base map
// draws parcels, buildings and pipelines from Formosa's tiles, and clicking a parcel shows
// its 地號. Starts its own `formosa demo` on a free port over a fresh store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, repo, startDemo } from './server.mjs';

let server;
let base;
let browser;

before(async () => {
  ({ base, child: server } = await startDemo());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
});

/** Waits for the map's next 'idle' (a repaint is requested so one always comes). */
function idle(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const m = window.formosaMap;
    m.once('idle', resolve);
    m.triggerRepaint();
  }));
}

/** Opens the viewer at a position and waits until every tile is loaded and drawn. */
async function openViewer(hash) {
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  const failed = [];
  page.on('requestfailed', (r) => failed.push(r.url()));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) failed.push(`external: ${r.url()}`); });
  await page.goto(`${base}/#${hash}`);
  await page.waitForFunction(() => window.formosaMap?.loaded() && window.formosaMap.areTilesLoaded(), null, { timeout: 60_000 });
  await idle(page);
  return { page, failed };
}

test('parcels, buildings and pipelines are drawn, and a click shows a parcel number', async () => {
  // Zoom 17 over the fixture area in 信義區: parcel lines, buildings and pipes all show.
  const { page, failed } = await openViewer('17/25.0335/121.5600');
  const counts = await page.evaluate(() => {
    const m = window.formosaMap;
    const n = (layer) => m.queryRenderedFeatures({ layers: [layer] }).length;
    return { parcels: n('parcel-lines'), buildings: n('buildings-flat'), pipelines: n('pipelines'), labels: n('parcel-labels') };
  });
  assert.ok(counts.parcels > 10, `parcels drawn: ${JSON.stringify(counts)}`);
  assert.ok(counts.buildings > 5, `buildings drawn: ${JSON.stringify(counts)}`);
  assert.ok(counts.pipelines > 2, `pipelines drawn: ${JSON.stringify(counts)}`);
  assert.ok(counts.labels > 0, `parcel labels placed (CJK glyphs loaded): ${JSON.stringify(counts)}`);

  // A screen point where a parcel is the topmost clickable feature.
  const target = await page.evaluate(() => {
    const m = window.formosaMap;
    const clickable = ['pipelines', 'buildings-3d', 'buildings-flat', 'landuse-parcels', 'town-boundaries'];
    const { width, height } = m.getCanvas().getBoundingClientRect();
    for (let y = 100; y < height - 100; y += 13) {
      for (let x = 260; x < width - 100; x += 13) {
        const [top] = m.queryRenderedFeatures([x, y], { layers: clickable.filter((l) => m.getLayer(l)) });
        if (top && top.sourceLayer === 'cadastral' && top.properties.parcel_no) return { x, y, parcel: top.properties.parcel_no };
      }
    }
    return null;
  });
  assert.ok(target, 'found a parcel to click');
  await page.mouse.click(target.x, target.y);
  const popup = await page.waitForSelector('.maplibregl-popup-content', { timeout: 10_000 });
  const text = await popup.textContent();
  assert.ok(text.includes('parcel_no') && text.includes(target.parcel), `popup shows 地號 ${target.parcel}: ${text}`);
  mkdirSync(path.join(repo, 'target'), { recursive: true });
  await page.screenshot({ path: path.join(repo, 'target/viewer-2d.png') });
  assert.deepEqual(failed, [], 'no failed or external requests');
  await page.close();
});

test('2.5D mode extrudes buildings by height and the hash keeps the position', async () => {
  const { page } = await openViewer('16.5/25.0335/121.5620');
  await page.click('#mode');
  await page.waitForFunction(() => window.formosaMap.getPitch() > 50, null, { timeout: 10_000 });
  await idle(page);
  const extruded = await page.evaluate(() => window.formosaMap.queryRenderedFeatures({ layers: ['buildings-3d'] }).length);
  assert.ok(extruded > 5, `extruded buildings: ${extruded}`);
  // On the terrain: MapLibre's elevation there is the DEM (+ geoid), from terrain-RGB.
  const elevation = await page.evaluate(() => window.formosaMap.queryTerrainElevation([121.5620, 25.0335]));
  assert.ok(elevation > 20 && elevation < 420, `terrain elevation ${elevation} m`);
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /^#16\.5\/25\.03\d*\/121\.56\d*\/0\/60$/);
  await page.screenshot({ path: path.join(repo, 'target/viewer-25d.png') });
  await page.close();
});

test('layer toggles hide and show a group', async () => {
  const { page } = await openViewer('17/25.0335/121.5600');
  const visibility = () => page.evaluate(() => window.formosaMap.getLayoutProperty('pipelines', 'visibility'));
  assert.equal(await visibility(), 'visible');
  await page.click('input[data-group="管線 Pipelines"]');
  assert.equal(await visibility(), 'none');
  await page.click('input[data-group="管線 Pipelines"]');
  assert.equal(await visibility(), 'visible');
  await page.close();
});
