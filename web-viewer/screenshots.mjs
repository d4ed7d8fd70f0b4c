// The README's pictures, from a fresh `formosa demo` over the bundled fixtures, as a user
// sees them: the 2D base map over 信義區, the 2.5D buildings, the 3D page in underground
// mode (headless Chromium, software GL), a WMS GetMap, and QGIS (offscreen) with the WMTS
// in the TWD97 tile matrix set. Writes full-size PNGs into the folder given; run through
// scripts/screenshots.sh, which makes them small and checks them.
//
//   node web-viewer/screenshots.mjs OUT_DIR
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, repo, startDemo } from './tests/server.mjs';

const out = path.resolve(process.argv[2] ?? '');
if (!process.argv[2]) {
  console.error('usage: node web-viewer/screenshots.mjs OUT_DIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const viewport = { width: 1024, height: 640 };
// 台北101 and the fixture blocks around it.
const centre = [121.5620, 25.0335];

const started = Date.now();
const demo = await startDemo();
const browser = await launchBrowser();
const shot = (name) => path.join(out, name);
const log = (what) => console.log(`${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

/** Waits for MapLibre's next 'idle': every tile loaded and drawn. */
const idle = (page) => page.evaluate(() => new Promise((resolve) => {
  window.formosaMap.once('idle', resolve);
  window.formosaMap.triggerRepaint();
}));

try {
  // 2D: parcels with their 地號, buildings, pipes by utility, over 信義區.
  let page = await browser.newPage({ viewport });
  await page.goto(`${demo.base}/#17/${centre[1]}/${centre[0] - 0.002}`);
  await page.waitForFunction(() => window.formosaMap?.loaded() && window.formosaMap.areTilesLoaded(), null, { timeout: 60_000 });
  await idle(page);
  await page.screenshot({ path: shot('viewer-2d.png') });
  log('viewer-2d.png');

  // 2.5D: the same map tilted, buildings extruded by height on the terrain.
  await page.goto(`${demo.base}/#16.6/${centre[1] - 0.001}/${centre[0]}`);
  await page.waitForFunction(() => window.formosaMap?.loaded(), null, { timeout: 60_000 });
  await page.click('#mode');
  await page.waitForFunction(() => window.formosaMap.getPitch() > 50, null, { timeout: 10_000 });
  await page.evaluate(() => window.formosaMap.jumpTo({ bearing: -25 }));
  await idle(page);
  await page.screenshot({ path: shot('viewer-25d.png') });
  await page.close();
  log('viewer-25d.png');

  // 3D, underground: the ground made translucent, pipes under the street, buildings above.
  page = await browser.newPage({ viewport });
  await page.goto(`${demo.base}/viewer/3d.html#${centre[0]}/${centre[1]}/2500`);
  await page.waitForFunction(() => window.formosa3d, null, { timeout: 60_000 });
  await page.evaluate(async () => { await window.formosa3d.ready; await window.formosa3d.layersReady; });
  await page.check('#underground');
  // Looking north along the road corridor east of the 0104/0105 blocks, where the pipes
  // run under the street.
  await page.evaluate(async ([lon, lat]) => {
    const { viewer, Cesium, tilesets } = window.formosa3d;
    const [ground] = await Cesium.sampleTerrainMostDetailed(viewer.terrainProvider, [Cesium.Cartographic.fromDegrees(lon, lat)]);
    viewer.camera.setView({
      destination: Cesium.Cartesian3.fromDegrees(lon, lat, ground.height + 60),
      orientation: { heading: Cesium.Math.toRadians(8), pitch: Cesium.Math.toRadians(-32), roll: 0 },
    });
    // Every tileset and the globe loaded for this view (or 30 s, whichever comes first).
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      viewer.scene.requestRender();
      await new Promise((r) => setTimeout(r, 250));
      if (viewer.scene.globe.tilesLoaded && Object.values(tilesets).every((t) => t.tilesLoaded)) break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }, [121.56010, 25.03300]);
  await page.screenshot({ path: shot('viewer-3d-underground.png') });
  await page.close();
  log('viewer-3d-underground.png');

  // WMS 1.3.0 GetMap of the base map, as any GIS client asks for it (CRS:84: lon/lat order).
  const bbox = [121.5540, 25.0275, 121.5700, 25.0375].join(',');
  const getmap = `${demo.base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS=CRS:84&BBOX=${bbox}&WIDTH=1024&HEIGHT=640&FORMAT=image/png`;
  const r = await fetch(getmap);
  if (r.status !== 200 || r.headers.get('content-type') !== 'image/png') throw new Error(`GetMap answered ${r.status} ${r.headers.get('content-type')}: ${await r.text()}`);
  writeFileSync(shot('wms-getmap.png'), Buffer.from(await r.arrayBuffer()));
  log('wms-getmap.png');

  // QGIS, offscreen, with the WMTS basemap in the TWD97 matrix set (EPSG:3826 project).
  const [x, y] = execFileSync('gdaltransform', ['-s_srs', 'EPSG:4326', '-t_srs', 'EPSG:3826', '-output_xy'], { input: `${centre[0]} ${centre[1]}\n` })
    .toString().trim().split(/\s+/).map(Number);
  const [hw, hh] = [560, 350];
  const uri = `contextualWMSLegend=0&crs=EPSG:3826&dpiMode=7&featureCount=10&format=image/png&layers=basemap&styles=default&tileMatrixSet=TWD97&url=${demo.base}/wmts/1.0.0/WMTSCapabilities.xml`;
  const args = { uri, crs: 'EPSG:3826', extent: [x - hw, y - hh, x + hw, y + hh], size: [1024, 640], out: shot('qgis-wmts-twd97.png') };
  const q = spawnSync('/usr/bin/python3', [path.join(repo, 'tile-server/tests/ogc/qgis_render.py'), JSON.stringify(args)], {
    env: { ...process.env, QT_QPA_PLATFORM: 'offscreen', NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    encoding: 'utf8',
    timeout: 120_000,
    cwd: out,
  });
  const result = (q.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).pop();
  if (q.status !== 0 || !result) throw new Error(`QGIS render failed (${q.status}):\n${q.stdout}\n${q.stderr}`);
  const parsed = JSON.parse(result);
  if (!parsed.valid || parsed.errors?.length || parsed.layer_crs !== 'EPSG:3826') throw new Error(`QGIS: ${result}`);
  log('qgis-wmts-twd97.png');
} finally {
  await browser.close();
  demo.child.kill();
}
log('done');
// Nothing left to wait for (the server's stderr pipe would keep the loop alive while it shuts down).
process.exit(0);
