//! An import killed with SIGKILL in the middle leaves the store exactly as it was.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigkill_during_import_keeps_previous_contents() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    formosa_ok(&store, &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")]);
    let before = layer_summary(&store);
    let before_heights = ogr_sql(&store.display().to_string(), "SELECT sum(height_m) FROM buildings");

    let big = dir.path().join("big.geojson");
    write_big_geojson(&big, 400_000);
    // Replace the buildings layer with the big file, and kill the import once its
    // transaction has written a good part of the new table into the WAL.
    let mut child = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .args(["--store", &store.display().to_string(), "-q", "import", "buildings", &big.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wal = dir.path().join("s.gpkg-wal");
    let start = Instant::now();
    let mut killed_mid_write = false;
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 8 * 1024 * 1024 {
            child.kill().unwrap(); // SIGKILL on Unix
            killed_mid_write = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child.wait().unwrap();
    assert!(killed_mid_write, "the import ended ({status:?}) before it could be killed mid-write");

    // The store opens, is intact, and holds exactly what it held before.
    assert_eq!(layer_summary(&store), before);
    let s = store.display().to_string();
    assert_eq!(ogr_sql(&s, "SELECT sum(height_m) FROM buildings"), before_heights);
    assert_eq!(tool("sqlite3", &[&s, "PRAGMA integrity_check"]).trim(), "ok");
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM rtree_buildings_geom"), ogr_sql(&s, "SELECT count(*) FROM buildings"));
    // And it still takes new imports.
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
}
