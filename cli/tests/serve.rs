//! `formosa serve`: health, the layer catalogue, and JSON problems for unknown paths.

mod common;
use common::*;
/// A plain HTTP/1.1 GET: (status, content-type, body).
fn get(addr: &str, path: &str) -> (u16, String, String) {
    let r = http_get(addr, path);
    (r.status, r.content_type(), r.text())
}

#[test]
fn health_catalog_and_problems() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")]);
    formosa_ok(&store, &["import", "vector", &fixture("admin/towns.geojson"), "--layer", "towns"]);
    let server = serve(&store, |_| {});

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
