//! The in-memory feature table answers exactly what SQLite answers.

use formosa_store::{Attributes, Envelope, Geometry, GpkgStore, ImportMode, ImportSpec, LayerKind, NewFeature, Value};

fn square(x: f64, y: f64, d: f64) -> Geometry {
    Geometry::MultiPolygon(vec![vec![vec![[x, y, 0.0], [x + d, y, 0.0], [x + d, y + d, 0.0], [x, y + d, 0.0], [x, y, 0.0]]]])
}

#[test]
fn memory_and_sqlite_reads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
    let mut import = store
        .begin_import(ImportSpec { layer: "towns".into(), kind: LayerKind::Vector, mode: ImportMode::Replace, source: "test".into(), source_crs: "EPSG:4326".into(), has_z: false })
        .unwrap();
    for i in 0..50 {
        let mut extra = serde_json::Map::new();
        extra.insert("人口".into(), serde_json::json!(1000 + i));
        extra.insert("備註".into(), serde_json::json!(format!("第{i}區")));
        let name = if i % 7 == 0 { Value::Null } else { Value::Text(format!("區{i}")) };
        import.insert(&NewFeature { geometry: square(121.5 + i as f64 * 0.01, 25.0, 0.005), values: vec![name, Value::Text("town".into())], extra }).unwrap();
    }
    import.commit(serde_json::json!({})).unwrap();
    store.reload().unwrap();

    let ids = store.query_ids("towns", &Envelope { min_x: 121.0, min_y: 24.0, max_x: 122.0, max_y: 26.0 }).unwrap();
    let mut ids = ids;
    ids.sort_unstable();
    ids.push(9999); // no such feature: left out by both
    let from_disk_all = store.features("towns", &ids, Attributes::All).unwrap();
    let from_disk_typed = store.features("towns", &ids, Attributes::Typed).unwrap();
    assert_eq!(from_disk_all.len(), 50);
    assert_eq!(from_disk_typed[3].properties.len(), 2, "typed reads leave the source attributes out");
    assert_eq!(from_disk_all[3].property("人口"), Some(&Value::Integer(1003)));

    assert!(!store.layer("towns").unwrap().has_feature_table());
    let (rows, bytes) = store.load_feature_table("towns").unwrap();
    assert_eq!(rows, 50);
    assert!(bytes > 50 * 100, "{bytes} bytes");
    assert!(store.layer("towns").unwrap().has_feature_table());
    assert_eq!(store.features("towns", &ids, Attributes::All).unwrap(), from_disk_all);
    assert_eq!(store.features("towns", &ids, Attributes::Typed).unwrap(), from_disk_typed);

    // A reload (as after a re-import) drops the table with the old layer.
    store.reload().unwrap();
    assert!(!store.layer("towns").unwrap().has_feature_table());
}
