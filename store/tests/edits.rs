//! Live edits: durable, logged in order, visible to queries and to the in-memory rows.

use formosa_store::{Attributes, Edit, Envelope, Geometry, GpkgStore, LayerKind, NewFeature, Value};

fn incident(lon: f64, lat: f64, kind: &str) -> NewFeature {
    NewFeature {
        geometry: Geometry::Point([lon, lat, 0.0]),
        values: vec![Value::Text(kind.into()), Value::Integer(3), Value::Text("2026-11-23T08:00:00Z".into()), Value::Text("路樹倒塌".into()), Value::Text("台北市消防局".into())],
        extra: serde_json::Map::new(),
    }
}

#[test]
fn insert_replace_delete_are_logged_and_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.gpkg");
    let store = GpkgStore::open(&path).unwrap();
    store.ensure_layer("incidents", LayerKind::Incidents).unwrap();
    store.ensure_layer("incidents", LayerKind::Incidents).unwrap(); // idempotent
    assert!(store.ensure_layer("incidents", LayerKind::Buildings).is_err());
    store.load_feature_table("incidents").unwrap();
    let all = Envelope { min_x: 119.0, min_y: 21.0, max_x: 123.0, max_y: 26.0 };

    let a = store.edit("incidents", Edit::Insert(incident(121.56, 25.03, "road_closure"))).unwrap().unwrap();
    let b = store.edit("incidents", Edit::Insert(incident(121.50, 25.05, "flood"))).unwrap().unwrap();
    assert_eq!((a.op.as_str(), a.seq + 1), ("insert", b.seq));
    assert_eq!(store.query_ids("incidents", &all).unwrap().len(), 2);
    let moved = store.edit("incidents", Edit::Replace(a.fid, incident(121.60, 25.10, "road_closure"))).unwrap().unwrap();
    assert!((moved.before.unwrap().min_x - 121.56).abs() < 1e-5);
    assert_eq!(moved.after.unwrap().min_x, 121.60);
    let near_old = Envelope { min_x: 121.559, min_y: 25.029, max_x: 121.561, max_y: 25.031 };
    assert!(store.query_ids("incidents", &near_old).unwrap().is_empty(), "the index forgot the old place");
    let f = &store.features("incidents", &[a.fid], Attributes::All).unwrap()[0];
    assert_eq!(f.geometry, Geometry::Point([121.60, 25.10, 0.0]));
    assert_eq!(f.property("description"), Some(&Value::Text("路樹倒塌".into())));
    assert!(store.edit("incidents", Edit::Delete(9999)).unwrap().is_none());
    store.edit("incidents", Edit::Delete(b.fid)).unwrap().unwrap();
    assert_eq!(store.query_ids("incidents", &all).unwrap(), vec![a.fid]);
    assert!(store.features("incidents", &[b.fid], Attributes::Typed).unwrap().is_empty());

    let log = store.changes_since(0, 100).unwrap();
    assert_eq!(log.iter().map(|c| c.op.as_str()).collect::<Vec<_>>(), ["insert", "insert", "update", "delete"]);
    assert_eq!(store.changes_since(log[1].seq, 100).unwrap().len(), 2);
    assert_eq!(store.last_change().unwrap(), log[3].seq);

    // Reopened: the same rows and log; GDAL-visible R*Tree kept in step by the triggers.
    drop(store);
    let store = GpkgStore::open(&path).unwrap();
    assert_eq!(store.query_ids("incidents", &all).unwrap(), vec![a.fid]);
    assert_eq!(store.changes_since(0, 100).unwrap(), log);
    assert_eq!(store.layer("incidents").unwrap().info.feature_count, 1);
}
