//! Every acknowledged write survives SIGKILL: the server is killed in the middle of a
//! stream of incident reports, and the store, reopened, holds each write that got a 201,
//! in the change log too, with integrity intact.

mod common;
use common::*;
use formosa_store::{Envelope, Store};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .arg("--store")
        .arg(&store_path)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("FORMOSA_CONFIG")
        .env("FORMOSA_LOG", "info")
        .env("FORMOSA_WRITE_TOKEN", TOKEN)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start formosa serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server log").unwrap();
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {}); // keep draining the log

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
            let _ = child.kill();
            panic!("fewer than 60 writes acknowledged in 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL, with writes in flight
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60);

    let store = Store::open(&store_path).unwrap();
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
