//! `formosa serve`: health, the layer catalogue, and JSON problems for unknown paths.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(store: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .args(["--store", &store.display().to_string(), "serve", "--bind", "127.0.0.1:0"])
        .env("FORMOSA_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// A plain HTTP/1.1 GET: (status, content-type, body).
fn get(addr: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let ctype = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_string))
        .unwrap_or_default();
    (status, ctype, body.to_string())
}

#[test]
fn health_catalog_and_problems() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")]);
    formosa_ok(&store, &["import", "vector", &fixture("admin/towns.geojson"), "--layer", "towns"]);
    let server = start(&store);

    let (status, ctype, body) = get(&server.addr, "/health");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/json"));
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["layers"], 3, "cadastral, towns and the live incidents layer");

    let (status, _, body) = get(&server.addr, "/catalog");
    assert_eq!(status, 200);
    let catalog: serde_json::Value = serde_json::from_str(&body).unwrap();
    let layers = catalog["layers"].as_array().unwrap();
    let cadastral = layers.iter().find(|l| l["name"] == "cadastral").expect("cadastral in catalog");
    assert_eq!(cadastral["kind"], "cadastral");
    assert_eq!(cadastral["source_crs"], "EPSG:3826");
    assert_eq!(cadastral["feature_count"].as_u64().unwrap(), ogr_count(&fixture("cadastral/taipei_parcels.shp"), None));
    let e = &cadastral["extent"];
    assert!(e["min_x"].as_f64().unwrap() > 121.4 && e["max_x"].as_f64().unwrap() < 121.7, "{e}");
    assert!(e["min_y"].as_f64().unwrap() > 24.9 && e["max_y"].as_f64().unwrap() < 25.2, "{e}");

    let (status, ctype, body) = get(&server.addr, "/no/such/thing?q=%3Cscript%3E");
    assert_eq!(status, 404);
    assert_eq!(ctype, "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 404);
    assert!(problem["detail"].as_str().unwrap().contains("/no/such/thing"));

    let (status, ctype, body) = get(&server.addr, "/");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"));
    assert!(body.contains("cadastral") && body.contains("towns"));
}
