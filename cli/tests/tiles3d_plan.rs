//! The 3D Tiles plan of the bundled buildings and pipelines: bounding regions contain
//! their children and the content's actual vertices, geometric error halves per level,
//! every feature sits in exactly one capped content tile.

mod common;
use common::*;
use formosa_encoders::terrain::heights::ElevationCache;
use formosa_encoders::tiles3d::{Plan, MAX_FEATURES};
use formosa_store::GpkgStore;
use serde_json::Value;

fn walk<'a>(t: &'a Value, parent: Option<&'a Value>, out: &mut Vec<(&'a Value, Option<&'a Value>)>) {
    out.push((t, parent));
    for c in t["children"].as_array().into_iter().flatten() {
        walk(c, Some(t), out);
    }
}

fn region(t: &Value) -> Vec<f64> {
    t["boundingVolume"]["region"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

#[test]
fn regions_contain_children_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.gpkg");
    formosa_ok(&path, &["import", "terrain", &fixture("terrain/dem_twd97_20m.tif")]);
    formosa_ok(&path, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    formosa_ok(&path, &["import", "pipelines", &fixture("pipelines/pipelines_2d.gpkg")]);
    let store = GpkgStore::open(&path).unwrap();
    let cache = ElevationCache::new(64);
    for layer in ["buildings", "pipelines"] {
        let plan = Plan::make(&store, &cache, layer, 20.0).unwrap();
        let tileset = plan.tileset();
        let mut tiles = Vec::new();
        walk(&tileset["root"], None, &mut tiles);
        let mut features = 0;
        for (t, parent) in &tiles {
            let r = region(t);
            if let Some(p) = parent {
                let p = region(p);
                assert!(p[0] <= r[0] && p[1] <= r[1] && p[2] >= r[2] && p[3] >= r[3] && p[4] <= r[4] && p[5] >= r[5], "{layer}: child region outside its parent");
                if p != region(&tileset["root"]) && t["children"].is_array() {
                    let ratio = parent.unwrap()["geometricError"].as_f64().unwrap() / t["geometricError"].as_f64().unwrap();
                    assert!((ratio - 2.0).abs() < 1e-9, "geometric error halves per level");
                }
            }
            if let Some(uri) = t["content"]["uri"].as_str() {
                let zxy: Vec<u32> = uri.trim_end_matches(".glb").split('/').map(|s| s.parse().unwrap()).collect();
                let glb = plan.content(&store, &cache, 20.0, (zxy[0] as u8, zxy[1], zxy[2])).unwrap();
                let json_len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
                let gltf: Value = serde_json::from_slice(&glb[20..20 + json_len]).unwrap();
                let count = gltf["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["count"].as_u64().unwrap() as usize;
                assert!(count <= MAX_FEATURES);
                features += count;
                // Every vertex, placed by the tile's transform, lies inside the region.
                let m: Vec<f64> = t["transform"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                let bin = &glb[20 + json_len + 8..];
                for prim in gltf["meshes"][0]["primitives"].as_array().unwrap() {
                    let acc = &gltf["accessors"][prim["attributes"]["POSITION"].as_u64().unwrap() as usize];
                    let view = &gltf["bufferViews"][acc["bufferView"].as_u64().unwrap() as usize];
                    let at = view["byteOffset"].as_u64().unwrap() as usize;
                    for v in bin[at..at + view["byteLength"].as_u64().unwrap() as usize].chunks(12).step_by(7) {
                        let p: Vec<f64> = v.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect();
                        let (lx, ly, lz) = (p[0], -p[2], p[1]); // glTF y-up → z-up
                        let e: Vec<f64> = (0..3).map(|k| m[k] * lx + m[4 + k] * ly + m[8 + k] * lz + m[12 + k]).collect();
                        let (lon, lat, h) = geodetic(e[0], e[1], e[2]);
                        let eps = 1e-7; // radians (≈ 0.6 m): f32 vertices and the curvature of the tile frame
                        assert!(lon >= r[0] - eps && lon <= r[2] + eps && lat >= r[1] - eps && lat <= r[3] + eps, "{layer} {uri}: vertex outside its region");
                        assert!(h >= r[4] - 0.6 && h <= r[5] + 0.6, "{layer} {uri}: vertex height {h} outside {}..{}", r[4], r[5]);
                    }
                }
            }
        }
        assert_eq!(features, plan.feature_count(), "{layer}: each feature in one content tile");
        assert!(features > 100);
    }
}

/// ECEF → (lon, lat) radians and ellipsoidal height (Bowring).
fn geodetic(x: f64, y: f64, z: f64) -> (f64, f64, f64) {
    let (a, b) = (6_378_137.0f64, 6_356_752.314_245_179f64);
    let e2 = 1.0 - b * b / (a * a);
    let ep2 = a * a / (b * b) - 1.0;
    let p = (x * x + y * y).sqrt();
    let th = (z * a).atan2(p * b);
    let lat = (z + ep2 * b * th.sin().powi(3)).atan2(p - e2 * a * th.cos().powi(3));
    let n = a / (1.0 - e2 * lat.sin().powi(2)).sqrt();
    (y.atan2(x), lat, p / lat.cos() - n)
}
