// One style, two renderers: the same views drawn by MapLibre GL JS in headless Chromium
// (from Formosa's vector tiles) and by Formosa's server renderer (WMS GetMap in EPSG:3857
// at the same resolution) must look alike. The figure is the share of pixels whose colour
// differs by more than 48 (of 255) in some channel, and the mean channel difference; the
// views, images and figures are written to target/render-vs-maplibre/.
//
// Two comparisons per view: the whole base map, and the base map without buildings.
// MapLibre draws fill-extrusions in perspective even at pitch 0 (its camera sits 1.5
// viewport heights above the centre, so a tall building's walls show and its roof grows
// away from the centre); the server draws the lit roof on the footprint, which is what
// tiles need to join seamlessly. Buildings are most of the difference, so the strict
// limits apply to the map without them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { launchBrowser, repo, startDemo } from './server.mjs';

const SIZE = { width: 512, height: 384 };
const HALF_WORLD = 20037508.342789244;
// MapLibre zoom z: a 512-px world, so 2 × HALF_WORLD / (512 × 2^z) metres per pixel.
const resolution = (z) => (2 * HALF_WORLD) / (512 * 2 ** z);
const mercator = (lon, lat) => [(lon * HALF_WORLD) / 180, Math.log(Math.tan(((90 + lat) * Math.PI) / 360)) * 6378137];

// Views over the fixture city (信義區): parcels with lines and fills, buildings as
// extrusion roofs, pipes by utility, and 地號 labels.
const VIEWS = [
  { name: 'z15-blocks', lon: 121.5645, lat: 25.034, zoom: 15.5 },
  { name: 'z17-parcels', lon: 121.5600, lat: 25.0335, zoom: 17 },
  { name: 'z18-labels', lon: 121.5645, lat: 25.034, zoom: 18 },
];

let demo;
let browser;
const out = path.join(repo, 'target/render-vs-maplibre');

before(async () => {
  demo = await startDemo();
  browser = await launchBrowser();
  mkdirSync(out, { recursive: true });
});

after(async () => {
  await browser?.close();
  demo?.child.kill();
});

/** MapLibre's picture of a view: a bare page with just the map, no controls. */
async function maplibre(view, hide = []) {
  const page = await browser.newPage({ viewport: SIZE, deviceScaleFactor: 1 });
  const html = `<!doctype html><html><head><style>html,body,#map{margin:0;width:${SIZE.width}px;height:${SIZE.height}px}</style></head>
    <body><div id="map"></div><script type="module">
      import * as maplibregl from '${demo.base}/viewer/node_modules/maplibre-gl/dist/maplibre-gl.mjs';
      const map = new maplibregl.Map({ container: 'map', style: '${demo.base}/styles/basemap.json', center: [${view.lon}, ${view.lat}],
        zoom: ${view.zoom}, pitch: 0, bearing: 0, attributionControl: false, fadeDuration: 0, pixelRatio: 1, canvasContextAttributes: { preserveDrawingBuffer: true } });
      window.map = map;
      map.once('load', () => { for (const id of ${JSON.stringify(hide)}) map.setLayoutProperty(id, 'visibility', 'none'); });
      map.on('idle', () => { if (map.loaded()) window.idle = true; });
    </script></body></html>`;
  await page.route(`${demo.base}/compare.html`, (r) => r.fulfill({ contentType: 'text/html', body: html }));
  await page.goto(`${demo.base}/compare.html`);
  await page.waitForFunction(() => window.idle === true && window.map.areTilesLoaded(), null, { timeout: 60_000 });
  const png = await page.screenshot({ clip: { x: 0, y: 0, ...SIZE } });
  await page.close();
  return png;
}

/** Formosa's picture of the same view. */
async function formosa(view, layers = 'basemap', extra = '') {
  const [x, y] = mercator(view.lon, view.lat);
  const r = resolution(view.zoom);
  const bbox = [x - (SIZE.width / 2) * r, y - (SIZE.height / 2) * r, x + (SIZE.width / 2) * r, y + (SIZE.height / 2) * r];
  const url = `${demo.base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=${layers}&STYLES=&CRS=EPSG:3857&BBOX=${bbox.join(',')}&WIDTH=${SIZE.width}&HEIGHT=${SIZE.height}&FORMAT=image/png${extra}`;
  const res = await fetch(url);
  assert.equal(res.headers.get('content-type'), 'image/png', await res.clone().text());
  return Buffer.from(await res.arrayBuffer());
}

function compare(a, b) {
  const A = PNG.sync.read(a);
  const B = PNG.sync.read(b);
  assert.deepEqual([A.width, A.height], [B.width, B.height]);
  let differing = 0;
  let sum = 0;
  const n = A.width * A.height;
  for (let i = 0; i < n * 4; i += 4) {
    let worst = 0;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(A.data[i + c] - B.data[i + c]);
      sum += d;
      worst = Math.max(worst, d);
    }
    if (worst > 48) differing++;
  }
  return { differing: differing / n, mean: sum / (n * 3) };
}

test('the server renderer and MapLibre draw the same views alike', async () => {
  const figures = [];
  // Every layer the style draws, named one by one: the `basemap` group would also draw
  // the demo's orthophoto (imagery is a WMS/WMTS layer, not in the vector style).
  const allLayers = 'terrain,cadastral,towns,counties,buildings,pipelines,incidents';
  const withoutBuildings = 'terrain,cadastral,towns,counties,pipelines,incidents';
  for (const view of VIEWS) {
    for (const [variant, ours, theirs] of [
      ['basemap', () => formosa(view, allLayers, '&BGCOLOR=0xF3F1EA'), () => maplibre(view)],
      ['no-buildings', () => formosa(view, withoutBuildings, '&BGCOLOR=0xF3F1EA'), () => maplibre(view, ['buildings-flat', 'buildings-3d'])],
    ]) {
      const [a, b] = [await ours(), await theirs()];
      writeFileSync(path.join(out, `${view.name}-${variant}-formosa.png`), a);
      writeFileSync(path.join(out, `${view.name}-${variant}-maplibre.png`), b);
      const f = compare(a, b);
      figures.push({ view: view.name, variant, zoom: view.zoom, differingPixels: +(f.differing * 100).toFixed(2), meanChannelDifference: +f.mean.toFixed(2) });
    }
  }
  writeFileSync(path.join(out, 'figures.json'), JSON.stringify(figures, null, 2));
  console.log(figures.map((f) => `${f.view} ${f.variant}: ${f.differingPixels} % of pixels differ by > 48, mean channel difference ${f.meanChannelDifference}`).join('\n'));
  for (const f of figures) {
    const [pixels, mean] = f.variant === 'basemap' ? [50, 40] : [5, 5];
    assert.ok(f.differingPixels < pixels, `${f.view} ${f.variant}: ${f.differingPixels} % of pixels differ (limit ${pixels} %)`);
    assert.ok(f.meanChannelDifference < mean, `${f.view} ${f.variant}: mean channel difference ${f.meanChannelDifference} (limit ${mean})`);
  }
});
