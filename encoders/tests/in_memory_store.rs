//! The seam, proved: the same MVT and WMS assertions run over the GeoPackage store and
//! over a second implementation of the feature traits that lives only here — a plain
//! in-memory list of features with exact envelopes and a linear scan for queries. If an
//! encoder depended on anything of the GeoPackage backend beyond the traits, the two
//! would disagree or this file would not compile.

use formosa_encoders::fonts::{Fonts, DEFAULT_FONT};
use formosa_encoders::render::crs::MapCrs;
use formosa_encoders::render::style::RenderStyle;
use formosa_encoders::render::{MapRequest, MapView, Renderer};
use formosa_encoders::tiles::{buffered_bounds, vector_tile};
use formosa_store::mercator::to_mercator;
use formosa_store::{
    Attributes, Catalog, Envelope, Feature, FeatureLayer, Geometry, GpkgStore, ImportMode, ImportSpec, LayerInfo, LayerKind, NewFeature, Pyramids, Source, StoreError, Value,
};
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

mod common;
use common::mvt::Tile;
use prost::Message;

// --- the second backend -------------------------------------------------------------

struct MemLayer {
    info: LayerInfo,
    /// Feature `i` has id `i + 1`, as the rows of a new GeoPackage table do.
    features: Vec<Feature>,
}

impl FeatureLayer for MemLayer {
    fn info(&self) -> &LayerInfo {
        &self.info
    }
    fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)> {
        self.features.iter().filter_map(|f| f.geometry.envelope().filter(|e| e.intersects(bbox)).map(|e| (f.id, e))).collect()
    }
    fn features(&self, ids: &[i64], _: Attributes) -> Result<Vec<Feature>, StoreError> {
        Ok(ids.iter().filter_map(|id| self.features.get((*id - 1) as usize)).cloned().collect())
    }
    fn column(&self, ids: &[i64], column: &str) -> Result<Vec<Value>, StoreError> {
        Ok(ids.iter().map(|id| self.features.get((*id - 1) as usize).and_then(|f| f.property(column)).cloned().unwrap_or(Value::Null)).collect())
    }
    fn len(&self) -> usize {
        self.features.len()
    }
}

struct MemStore(Vec<Arc<MemLayer>>);

impl Catalog for MemStore {
    fn layers(&self) -> Vec<LayerInfo> {
        self.0.iter().map(|l| l.info.clone()).collect()
    }
    fn feature_layer(&self, name: &str) -> Option<Arc<dyn FeatureLayer>> {
        self.0.iter().find(|l| l.info.name == name).map(|l| l.clone() as Arc<dyn FeatureLayer>)
    }
}

/// No terrain, no imagery: the defaults.
impl Pyramids for MemStore {}

// --- the same data in both ------------------------------------------------------------

const LON0: f64 = 121.5600;
const LAT0: f64 = 25.0300;
/// 30 m squares, 12 × 12, over 信義區.
const STEP_LON: f64 = 0.000297;
const STEP_LAT: f64 = 0.000271;
const N: usize = 12;

fn square(x0: f64, y0: f64, w: f64, h: f64) -> Geometry {
    Geometry::MultiPolygon(vec![vec![vec![[x0, y0, 0.0], [x0 + w, y0, 0.0], [x0 + w, y0 + h, 0.0], [x0, y0 + h, 0.0], [x0, y0, 0.0]]]])
}

fn land_use(i: usize) -> &'static str {
    if i.is_multiple_of(3) {
        "商業區"
    } else {
        "住宅區"
    }
}

fn parcels() -> Vec<NewFeature> {
    (0..N * N)
        .map(|i| {
            let (c, r) = ((i % N) as f64, (i / N) as f64);
            NewFeature {
                geometry: square(LON0 + c * STEP_LON, LAT0 + r * STEP_LAT, STEP_LON * 0.98, STEP_LAT * 0.98),
                values: vec![
                    Value::Text(format!("{:04}-0000", i + 1)),
                    Value::Text("信義段".into()),
                    Value::Text("63000".into()),
                    Value::Text("6300200".into()),
                    Value::Text(land_use(i).into()),
                    Value::Real(900.0),
                ],
                extra: Default::default(),
            }
        })
        .collect()
}

fn buildings() -> Vec<NewFeature> {
    (0..N * N)
        .filter(|i| i % 2 == 0)
        .map(|i| {
            let (c, r) = ((i % N) as f64, (i / N) as f64);
            NewFeature {
                geometry: square(LON0 + (c + 0.25) * STEP_LON, LAT0 + (r + 0.25) * STEP_LAT, STEP_LON * 0.5, STEP_LAT * 0.5),
                values: vec![Value::Real(12.0 + i as f64), Value::Integer(4), Value::Text("住宅".into()), Value::Text("RC".into()), Value::Null],
                extra: Default::default(),
            }
        })
        .collect()
}

fn gpkg_store(dir: &Path) -> GpkgStore {
    let store = GpkgStore::open(dir.join("seam.gpkg")).unwrap();
    for (layer, kind, features) in [("cadastral", LayerKind::Cadastral, parcels()), ("buildings", LayerKind::Buildings, buildings())] {
        let spec = ImportSpec { layer: layer.into(), kind, mode: ImportMode::Replace, source: "seam test".into(), source_crs: "EPSG:4326".into(), has_z: false };
        let mut import = store.begin_import(spec).unwrap();
        for f in &features {
            import.insert(f).unwrap();
        }
        import.commit(serde_json::json!({})).unwrap();
    }
    store.reload().unwrap();
    store
}

fn mem_store() -> MemStore {
    let layer = |name: &str, kind: LayerKind, features: Vec<NewFeature>| {
        let features: Vec<Feature> = features
            .into_iter()
            .enumerate()
            .map(|(i, f)| Feature { id: i as i64 + 1, properties: kind.columns().iter().zip(f.values).map(|(c, v)| (Cow::Borrowed(c.name), v)).collect(), geometry: f.geometry })
            .collect();
        let extent = features.iter().filter_map(|f| f.geometry.envelope()).reduce(Envelope::union);
        let info = LayerInfo {
            name: name.into(),
            kind: kind.as_str().into(),
            source: "seam test".into(),
            source_crs: "EPSG:4326".into(),
            imported_at: "2026-12-01T00:00:00.000Z".into(),
            feature_count: features.len() as u64,
            has_z: false,
            extent,
            details: serde_json::json!({}),
            max_zoom: None,
        };
        Arc::new(MemLayer { info, features })
    };
    MemStore(vec![layer("buildings", LayerKind::Buildings, buildings()), layer("cadastral", LayerKind::Cadastral, parcels())])
}

/// The z16 tile holding the grid's middle.
fn middle_tile() -> (u8, u32, u32) {
    let (mx, my) = to_mercator(LON0 + STEP_LON * N as f64 / 2.0, LAT0 + STEP_LAT * N as f64 / 2.0);
    let size = formosa_store::mercator::tile_size_m(16);
    let half = formosa_store::mercator::HALF_WORLD;
    (16, ((mx + half) / size) as u32, ((half - my) / size) as u32)
}

/// What the MVT encoder must write, asked of any store: every parcel meeting the tile
/// and its buffer, with its 地號 and a polygon geometry; one label point per parcel whose
/// point lies inside; buildings as polygons.
fn assert_vector_tile(store: &dyn Source) -> Vec<u8> {
    let (z, x, y) = middle_tile();
    let bytes = vector_tile(store, &["cadastral".into(), "buildings".into()], z, x, y).unwrap();
    let tile = Tile::decode(&bytes[..]).unwrap();
    let names: Vec<&str> = tile.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["cadastral", "cadastral_label", "buildings"]);
    let padded = buffered_bounds(z, x, y);
    let expected: Vec<String> =
        parcels().iter().enumerate().filter(|(_, f)| f.geometry.envelope().unwrap().intersects(&padded)).map(|(i, _)| format!("{:04}-0000", i + 1)).collect();
    let cadastral = &tile.layers[0];
    assert!(expected.len() > 4 && expected.len() < N * N, "the tile shows part of the grid: {}", expected.len());
    assert_eq!(cadastral.extent, 4096);
    assert_eq!(cadastral.version, 2);
    let mut got: Vec<String> = cadastral.features.iter().map(|f| cadastral.text(f, "parcel_no").expect("地號")).collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(cadastral.features.iter().all(|f| f.r#type == 3 && f.geometry.len() >= 11), "closed polygons");
    assert!(cadastral.features.iter().all(|f| cadastral.text(f, "land_use").is_some_and(|u| u == "住宅區" || u == "商業區")));
    let labels = &tile.layers[1];
    assert!(!labels.features.is_empty() && labels.features.len() <= expected.len());
    assert!(labels.features.iter().all(|f| f.r#type == 1 && labels.keys.iter().all(|k| k == "parcel_no" || k == "section")));
    let buildings = &tile.layers[2];
    assert!(!buildings.features.is_empty() && buildings.features.iter().all(|f| f.r#type == 3));
    bytes
}

/// What the WMS renderer must draw, asked of any store: at 1:2,000 the parcels' fills
/// and the buildings over them inside the grid, the style's background outside it.
fn assert_wms_map(store: &dyn Source) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let style = RenderStyle::load(&root.join("styles/basemap.json")).unwrap();
    let renderer = Renderer::new(style, &Fonts::load(&[DEFAULT_FONT.into()]));
    // The grid's south-west quarter, and as much again of empty land west and south of it.
    let (x0, y0) = to_mercator(LON0 - STEP_LON * 6.0, LAT0 - STEP_LAT * 6.0);
    let (x1, y1) = to_mercator(LON0 + STEP_LON * 6.0, LAT0 + STEP_LAT * 6.0);
    let view = MapView { crs: MapCrs::WebMercator, bbox: [x0, y0, x1, y1], width: 256, height: 256 };
    let req = MapRequest { view, layers: vec!["basemap".into()], transparent: false, bgcolor: None, label_margin: 0.0 };
    let pixmap = renderer.render(store, None, &req).unwrap();
    let px = |x: u32, y: u32| {
        let p = pixmap.pixel(x, y).unwrap();
        [p.red(), p.green(), p.blue()]
    };
    let background = [0xf3, 0xf1, 0xea];
    assert_eq!(px(20, 20), background, "north-west of the grid: nothing but the background");
    assert_eq!(px(20, 236), background, "south-west of the grid: background");
    // The centre of parcel 0 (commercial, #f4cccc at opacity) and of its building.
    let parcel = |c: f64, r: f64| {
        let (mx, my) = to_mercator(LON0 + c * STEP_LON, LAT0 + r * STEP_LAT);
        (((mx - x0) / (x1 - x0) * 256.0) as u32, ((y1 - my) / (y1 - y0) * 256.0) as u32)
    };
    let (bx, by) = parcel(0.5, 0.5);
    let (cx, cy) = parcel(1.1, 1.1);
    let building = px(bx, by);
    let commercial_corner = px(cx, cy);
    assert_ne!(building, background, "a building is drawn at ({bx}, {by})");
    assert_ne!(commercial_corner, background, "a parcel is filled at ({cx}, {cy})");
    assert!(building[0].abs_diff(0xd9) < 40 && building[2].abs_diff(0xc1) < 40, "the building's fill #d9d0c1 (roof lit): {building:?}");
    pixmap.data().to_vec()
}

#[test]
fn the_geopackage_store_and_an_in_memory_one_make_the_same_tiles_and_maps() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = gpkg_store(dir.path());
    let mem = mem_store();
    assert_eq!(Catalog::layers(&gpkg).iter().map(|l| l.name.clone()).collect::<Vec<_>>(), mem.layers().iter().map(|l| l.name.clone()).collect::<Vec<_>>());
    let (tile_gpkg, tile_mem) = (assert_vector_tile(&gpkg), assert_vector_tile(&mem));
    assert_eq!(tile_gpkg, tile_mem, "the same tile, byte for byte, from either store");
    let (map_gpkg, map_mem) = (assert_wms_map(&gpkg), assert_wms_map(&mem));
    assert!(map_gpkg == map_mem, "the same map, pixel for pixel, from either store");
}
