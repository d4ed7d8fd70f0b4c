//! Re-importing a layer while the server runs: the new data is swapped in within seconds,
//! the old tiles are dropped, and requests during the swap all succeed.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Kills the server when the test ends, passed or not.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let head_end = resp.windows(4).position(|w| w == b"\r\n\r\n").map_or(resp.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&resp[..head_end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, resp[head_end..].to_vec())
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
    let mut server = Server(Command::new(env!("CARGO_BIN_EXE_formosa"))
        .arg("--store")
        .arg(&store)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("FORMOSA_CONFIG")
        .env("FORMOSA_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    let mut lines = BufReader::new(server.0.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server log").unwrap();
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
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
    let features: Vec<String> = (0..3).map(|i| format!(r#"{{"type":"Feature","properties":{{"樓層":{}}},"geometry":{{"type":"Polygon","coordinates":{}}}}}"#, i + 2, square(121.56 + i as f64 * 0.001))).collect();
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
