// Formosa's 3D page: CesiumJS (from npm, no Ion token, nothing from the internet) on
// Formosa's quantized-mesh terrain. Position in the URL hash (#lon/lat/height), shared
// with the 2D page's link; an underground mode makes the ground translucent so what lies
// below it (pipelines, with the 3D Tiles layers) can be seen.
const { Cesium } = window;
Cesium.Ion.defaultAccessToken = '';

const viewer = new Cesium.Viewer('map', {
  baseLayer: false,
  baseLayerPicker: false,
  geocoder: false,
  homeButton: false,
  sceneModePicker: false,
  navigationHelpButton: false,
  animation: false,
  timeline: false,
  fullscreenButton: false,
  infoBox: true,
  selectionIndicator: true,
});
const { scene } = viewer;
scene.globe.baseColor = Cesium.Color.fromCssColorString('#d9d3bf');
// Sunlight from a fixed late-morning sun over Taiwan, so the relief reads without imagery.
scene.globe.enableLighting = true;
viewer.clock.currentTime = Cesium.JulianDate.fromIso8601('2026-03-20T02:00:00Z');
viewer.clock.shouldAnimate = false;
scene.globe.depthTestAgainstTerrain = true;
scene.skyAtmosphere.show = false;
scene.fog.enabled = false;

// Position: #lon/lat/height (metres above the ellipsoid), else over 信義區.
function fromHash() {
  const [lon, lat, height] = location.hash.slice(1).split('/').map(Number);
  return Number.isFinite(lon) && Number.isFinite(lat) ? { lon, lat, height: Number.isFinite(height) ? height : 3000 } : { lon: 121.5645, lat: 25.0, height: 6000 };
}
const start = fromHash();
viewer.camera.setView({
  destination: Cesium.Cartesian3.fromDegrees(start.lon, start.lat, start.height),
  orientation: { heading: 0, pitch: Cesium.Math.toRadians(-35), roll: 0 },
});

// Keep the hash and the 2D link on the camera's position (the 2D page's hash is
// #zoom/lat/lon; a 256-px tile spans 40,075 km / 2^zoom, so zoom ≈ log2(…/height)).
const link2d = document.getElementById('to2d');
function updateLinks() {
  const c = viewer.camera.positionCartographic;
  const lon = Cesium.Math.toDegrees(c.longitude).toFixed(5);
  const lat = Cesium.Math.toDegrees(c.latitude).toFixed(5);
  history.replaceState(null, '', `#${lon}/${lat}/${Math.round(c.height)}`);
  const zoom = Math.max(0, Math.min(20, Math.log2(35_000_000 / Math.max(c.height, 1)))).toFixed(2);
  link2d.href = `/#${zoom}/${lat}/${lon}`;
}
viewer.camera.changed.addEventListener(updateLinks);
viewer.camera.percentageChanged = 0.01;
updateLinks();

document.getElementById('underground').addEventListener('change', (e) => {
  const on = e.target.checked;
  scene.screenSpaceCameraController.enableCollisionDetection = !on;
  scene.globe.translucency.enabled = on;
  scene.globe.translucency.frontFaceAlphaByDistance = on ? new Cesium.NearFarScalar(400, 0.25, 8000, 0.9) : undefined;
});

const status = document.getElementById('status');
const ready = Cesium.CesiumTerrainProvider.fromUrl('/terrain', { requestVertexNormals: true })
  .then((terrain) => {
    viewer.terrainProvider = terrain;
    status.textContent = '地形 Formosa terrain (ellipsoidal heights)';
    return terrain;
  })
  .catch((e) => {
    status.textContent = `地形無法載入 terrain unavailable: ${e.message ?? e}`;
    return null;
  });

// Buildings and pipelines as 3D Tiles (pipes keep their colours by utility from the
// server's materials). A click shows the picked feature's attributes.
const tilesets = {};
const layersReady = (async () => {
  const catalog = await (await fetch('/catalog')).json();
  for (const l of catalog.layers.filter((x) => x.kind === 'buildings' || x.kind === 'pipelines')) {
    try {
      const ts = await Cesium.Cesium3DTileset.fromUrl(`/3dtiles/${l.name}/tileset.json`, { maximumScreenSpaceError: 8 });
      viewer.scene.primitives.add(ts);
      tilesets[l.name] = ts;
    } catch (e) {
      status.textContent += ` · ${l.name}: ${e.message ?? e}`;
    }
  }
  return tilesets;
})();

const handler = new Cesium.ScreenSpaceEventHandler(scene.canvas);
handler.setInputAction((click) => {
  const picked = scene.pick(click.position);
  if (!(picked instanceof Cesium.Cesium3DTileFeature)) {
    viewer.selectedEntity = undefined;
    return;
  }
  const rows = picked.getPropertyIds().map((id) => {
    const td = document.createElement('td');
    td.textContent = String(picked.getProperty(id));
    return `<tr><th>${id}</th>${td.outerHTML}</tr>`;
  });
  viewer.selectedEntity = new Cesium.Entity({
    name: `${picked.tileset === tilesets.pipelines ? '管線 pipe' : '建物 building'} #${picked.getProperty('fid')}`,
    description: `<table class="cesium-infoBox-defaultTable">${rows.join('')}</table>`,
  });
}, Cesium.ScreenSpaceEventType.LEFT_CLICK);

window.formosa3d = { viewer, Cesium, ready, layersReady, tilesets }; // for the browser tests and the console
