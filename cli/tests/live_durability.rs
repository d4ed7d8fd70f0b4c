//! Every acknowledged write survives SIGKILL: the server is killed in the middle of a
//! stream of incident reports, and the store, reopened, holds each write that got a 201,
//! in the change log too, with integrity intact.

mod common;
use common::*;
use formosa_store::{Envelope, GpkgStore};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "durability-test-token";

/// POSTs one incident; returns its id when the server answered 201.
fn post_incident(addr: &str, n: usize) -> Option<i64> {
    let body = format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"type":"flood","severity":3,"description":"積水 #{n}","reporter":"test"}}}}"#,
        121.5 + (n % 100) as f64 * 0.001,
        25.0 + (n / 100) as f64 * 0.001
    );
    let mut s = TcpStream::connect(addr).ok()?;
    let req = format!(
        "POST /ogcapi/collections/incidents/items HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    if !resp.starts_with("HTTP/1.1 201") {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(resp.split("\r\n\r\n").nth(1)?).ok()?;
    json["id"].as_i64()
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("live.gpkg");
    formosa_ok(&store_path, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    let mut server = serve(&store_path, |cmd| {
        cmd.env("FORMOSA_WRITE_TOKEN", TOKEN);
    });
    let addr = server.addr.clone();

    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop, addr) = (acked.clone(), stop.clone(), addr.clone());
            std::thread::spawn(move || {
                let mut n = w;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(id) = post_incident(&addr, n) {
                        acked.lock().unwrap().push(id);
                    }
                    n += 4;
                }
            })
        })
        .collect();
    let started = std::time::Instant::now();
    while acked.lock().unwrap().len() < 60 {
        if started.elapsed().as_secs() > 60 {
            let _ = server.child.kill();
            panic!("fewer than 60 writes acknowledged in 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.child.kill().unwrap(); // SIGKILL, with writes in flight
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60);

    let store = GpkgStore::open(&store_path).unwrap();
    let world = Envelope { min_x: -180.0, min_y: -90.0, max_x: 180.0, max_y: 90.0 };
    let present = store.query_ids("incidents", &world).unwrap();
    for id in &acked {
        assert!(present.contains(id), "acknowledged incident {id} is missing after SIGKILL");
    }
    let logged: Vec<i64> = store.changes_since(0, 100_000).unwrap().into_iter().filter(|c| c.layer == "incidents").map(|c| c.fid).collect();
    assert_eq!(logged.len(), present.len(), "one change per stored incident, no more, no less");
    let integrity = tool("sqlite3", &[store_path.to_str().unwrap(), "PRAGMA integrity_check"]);
    assert_eq!(integrity.trim(), "ok");
    assert_eq!(ogr_count(store_path.to_str().unwrap(), Some("buildings")), 1215, "other layers untouched");
}
