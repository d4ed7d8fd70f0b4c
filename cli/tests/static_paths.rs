//! Static routes (the viewer, styles, glyphs) against path traversal and unservable names:
//! raw request targets (a browser would normalise `..` away before sending), each answered
//! with a 4xx and a JSON reason, and never with a file from outside the served folder.

mod common;
use common::*;

#[test]
fn traversal_and_unservable_paths_get_a_reason_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")]);
    let server = serve(&store, |cmd| {
        cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    });
    let addr = server.addr.clone();
    // Served as it should be: the viewer's page.
    let page = http_get(&addr, "/viewer/index.html");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("maplibre"), "{}", page.text());
    // The icon every browser asks for: an ICO file, not a 404.
    let icon = http_get(&addr, "/favicon.ico");
    assert_eq!((icon.status, icon.content_type().as_str()), (200, "image/x-icon"), "{}", icon.head);
    assert_eq!(&icon.body[..4], &[0, 0, 1, 0], "an ICO header");
    let secrets = ["[workspace]", "root:x:0", "[package]"];
    let long = "w".repeat(300);
    let long_encoded = "%77".repeat(300);
    let targets = [
        "/viewer/../Cargo.toml".to_string(),
        "/viewer/../../etc/passwd".into(),
        "/viewer/..%2f..%2fCargo.toml".into(),
        "/viewer/%2e%2e/%2e%2e/Cargo.toml".into(),
        "/viewer/%2E%2E%2FCargo.toml".into(),
        "/viewer/..%5cCargo.toml".into(),
        "/viewer/....//Cargo.toml".into(),
        "/viewer//etc/passwd".into(),
        "/viewer/%2fetc%2fpasswd".into(),
        "/viewer/tests/../../Cargo.toml".into(),
        "/styles/..%2f..%2fCargo.toml".into(),
        "/styles/../Cargo.toml".into(),
        "/fonts/..%2f..%2fCargo.toml/0-255.pbf".into(),
        "/fonts/WenQuanYi%20Micro%20Hei%20Regular/..%2f..%2f..%2fetc%2fpasswd".into(),
        format!("/viewer/{long}"),
        format!("/viewer/{long_encoded}"),
        format!("/tiles/{long}/1/0/0.mvt"),
        format!("/viewer/{}", "w%%".repeat(90)),
    ];
    for t in &targets {
        for method in ["GET", "HEAD"] {
            let r = http(&addr, format!("{method} {t} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
            let text = r.text();
            assert!((400..500).contains(&r.status), "{method} {t} → {}\n{}", r.status, r.head);
            assert!(!secrets.iter().any(|s| text.contains(s)), "{method} {t} leaked a file:\n{text}");
            if method == "GET" {
                assert!(r.head.to_ascii_lowercase().contains("application/problem+json"), "{t}: {}", r.head);
                assert!(text.contains("\"detail\""), "{t}: {text}");
            }
        }
    }
    let r = http_get(&addr, &format!("/viewer/{long}"));
    assert!(r.text().contains("300 bytes long"), "{}", r.text());
    let mut server = server;
    assert!(server.child.try_wait().unwrap().is_none(), "the server is still running");
}
