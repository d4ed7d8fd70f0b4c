//! Surge limits through HTTP: a client over its rate gets 429 with Retry-After and a JSON
//! reason (others are unaffected); an oversized body gets 413; the server keeps serving.

mod common;
use common::*;

fn request(addr: &str, raw: &[u8]) -> (u16, String) {
    let r = http(addr, raw);
    (r.status, format!("{}{}", r.head, r.text()))
}

#[test]
fn rate_and_body_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("l.gpkg");
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    let config = dir.path().join("formosa.toml");
    std::fs::write(&config, "[server]\nrate_limit_per_s = 5.0\nrate_limit_burst = 5.0\nwrite_token = \"t\"\n").unwrap();
    let server = serve(&store, |cmd| {
        cmd.arg("--config").arg(&config);
    });
    let addr = server.addr.clone();
    let get = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let statuses: Vec<(u16, String)> = (0..12).map(|_| request(&addr, get.as_bytes())).collect();
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<&String> = statuses.iter().filter(|(s, _)| *s == 429).map(|(_, t)| t).collect();
    assert!((5..=7).contains(&ok), "a burst of 5 (and what refilled meanwhile) passes: {ok}");
    assert!(!limited.is_empty());
    assert!(limited[0].to_lowercase().contains("retry-after:"), "{}", limited[0]);
    assert!(limited[0].contains("application/problem+json") && limited[0].contains("requests per second"));
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_eq!(request(&addr, get.as_bytes()).0, 200, "served again after waiting");

    let big = vec![b'x'; 3 << 20];
    let mut post = format!("POST /ogcapi/collections/incidents/items HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", big.len()).into_bytes();
    post.extend_from_slice(&big);
    assert_eq!(request(&addr, &post).0, 413, "a 3 MiB body is refused");
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(request(&addr, get.as_bytes()).0, 200, "and the server is still up");
}
