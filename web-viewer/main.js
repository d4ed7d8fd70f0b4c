// Formosa's 2D/2.5D viewer: the base-map style from this server, layer toggles, a
// 2D/2.5D switch, feature attributes on click, and the position in the URL hash.
// Everything it loads comes from this server (MapLibre from npm, glyphs from /fonts).
import * as maplibregl from '/viewer/node_modules/maplibre-gl/dist/maplibre-gl.mjs';

// Layer groups of styles/basemap.json, as the toggles show them.
const GROUPS = [
  { name: '地形 Terrain', layers: ['hillshade'] },
  { name: '行政界 Boundaries', layers: ['county-boundaries', 'town-boundaries', 'county-labels', 'town-labels'] },
  { name: '地籍 Parcels', layers: ['landuse-parcels', 'parcel-lines', 'parcel-labels'] },
  { name: '建物 Buildings', layers: ['buildings-flat', 'buildings-3d'] },
  { name: '管線 Pipelines', layers: ['pipelines'] },
  { name: '災情 Incidents', layers: ['incident-clusters', 'incident-cluster-counts', 'incidents'] },
];
// Layers whose features a click reports, topmost first.
const CLICKABLE = ['incident-clusters', 'incidents', 'pipelines', 'buildings-3d', 'buildings-flat', 'landuse-parcels', 'town-boundaries'];

const map = new maplibregl.Map({
  container: 'map',
  style: '/styles/basemap.json',
  center: [121.5645, 25.034],
  zoom: 15,
  hash: true,
  attributionControl: { compact: true },
});
map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }));
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }));
window.formosaMap = map; // for the browser tests and the console

// The 3D page at the same place (its hash is #lon/lat/height; see 3d.js).
const link3d = document.getElementById('to3d');
function update3dLink() {
  const c = map.getCenter();
  const height = Math.round(35_000_000 / 2 ** map.getZoom());
  link3d.href = `/viewer/3d.html#${c.lng.toFixed(5)}/${c.lat.toFixed(5)}/${height}`;
}
map.on('moveend', update3dLink);
update3dLink();

let threeD = false;
const hidden = new Set();

function applyVisibility() {
  for (const group of GROUPS) {
    for (const id of group.layers) {
      if (!map.getLayer(id)) continue;
      let visible = !hidden.has(group.name);
      if (id === 'buildings-3d') visible &&= threeD;
      if (id === 'buildings-flat') visible &&= !threeD;
      map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
  }
}

function buildToggles() {
  const box = document.getElementById('layers');
  for (const group of GROUPS) {
    if (!group.layers.some((id) => map.getLayer(id))) continue;
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.checked = true;
    input.dataset.group = group.name;
    input.addEventListener('change', () => {
      if (input.checked) hidden.delete(group.name); else hidden.add(group.name);
      applyVisibility();
    });
    label.append(input, ' ', group.name);
    box.append(label);
  }
}

function setMode(toThreeD) {
  threeD = toThreeD;
  const button = document.getElementById('mode');
  button.textContent = threeD ? '2D' : '2.5D';
  button.setAttribute('aria-pressed', String(threeD));
  applyVisibility();
  // 2.5D stands the map on Formosa's terrain (terrain-RGB, ellipsoidal heights) when the
  // style has it.
  if (map.getSource('terrain')) map.setTerrain(threeD ? { source: 'terrain', exaggeration: 1 } : null);
  map.easeTo({ pitch: threeD ? 60 : 0, duration: 600 });
}

// Builds the attribute table with DOM text nodes: values are never parsed as HTML.
function featureTable(feature) {
  const table = document.createElement('table');
  table.className = 'feature-table';
  const caption = document.createElement('caption');
  caption.textContent = `${feature.sourceLayer} #${feature.id ?? ''}`;
  table.append(caption);
  for (const [key, value] of Object.entries(feature.properties)) {
    const row = table.insertRow();
    const th = document.createElement('th');
    th.textContent = key;
    const td = row.insertCell();
    td.textContent = String(value);
    row.prepend(th);
  }
  return table;
}

map.on('load', () => {
  buildToggles();
  applyVisibility();
  document.getElementById('mode').addEventListener('click', () => setMode(!threeD));
});

map.on('click', (e) => {
  const layers = CLICKABLE.filter((id) => map.getLayer(id));
  const [feature] = map.queryRenderedFeatures(e.point, { layers });
  if (!feature) return;
  // A cluster of reports: zoom in until they come apart (they do at z16, see cluster.rs).
  if (feature.properties.point_count) {
    map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, 16.5) });
    return;
  }
  new maplibregl.Popup({ maxWidth: '320px' }).setLngLat(e.lngLat).setDOMContent(featureTable(feature)).addTo(map);
});

for (const id of CLICKABLE) {
  map.on('mouseenter', id, () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
}
