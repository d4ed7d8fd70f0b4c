//! Re-importing a layer while the server runs: the new data is swapped in within seconds,
//! the old tiles are dropped, and requests during the swap all succeed.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let r = http_get(addr, path);
    (r.status, r.body)
}

fn matched(addr: &str) -> u64 {
    let (status, body) = get(addr, "/ogcapi/collections/buildings/items?limit=1");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice::<serde_json::Value>(&body).unwrap()["numberMatched"].as_u64().unwrap()
}

#[test]
fn a_layer_replaced_while_serving_is_swapped_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("hot.gpkg");
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    let server = serve(&store, |_| {});
    let addr = server.addr.clone();
    assert_eq!(matched(&addr), 1215);
    // The tile where the replacement buildings go; the old ones are there too.
    let tile = "/tiles/buildings/16/54897/28059.mvt";
    let (status, before) = get(&addr, tile);
    assert_eq!(status, 200);
    assert!(!before.is_empty(), "old buildings in the tile");

    // Requests keep flowing during the re-import.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed, addr) = (stop.clone(), ok.clone(), failed.clone(), addr.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let counter = if get(&addr, tile).0 == 200 { &ok } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // A three-building replacement, imported by another process.
    let small = dir.path().join("three.geojson");
    let square = |x: f64| format!("[[[{x},25.030],[{},25.030],[{},25.0303],[{x},25.0303],[{x},25.030]]]", x + 0.0003, x + 0.0003);
    let features: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"type":"Feature","properties":{{"樓層":{}}},"geometry":{{"type":"Polygon","coordinates":{}}}}}"#, i + 2, square(121.56 + i as f64 * 0.001)))
        .collect();
    std::fs::write(&small, format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))).unwrap();
    formosa_ok(&store, &["import", "buildings", small.to_str().unwrap()]);
    let started = std::time::Instant::now();
    while matched(&addr) != 3 {
        assert!(started.elapsed().as_secs() < 10, "the re-import was not picked up within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed during the swap ({} succeeded)", ok.load(Ordering::Relaxed));
    assert!(ok.load(Ordering::Relaxed) > 0);
    let (_, after) = get(&addr, tile);
    assert!(!after.is_empty(), "the new buildings are in the tile");
    assert_ne!(after, before, "the cached tile of the old buildings was dropped");
}
