//! A bounded, seeded fuzzer over real TCP against the `formosa` binary (the coverage-
//! guided cargo-fuzz targets in fuzz/ drive the router in process; this one also covers
//! hyper's parsing and the binary's setup): thousands of mutated request paths, query strings and
//! bodies against a running server, and random inputs to the public parsers. No input may
//! crash the server or get a 5xx; every 4xx carries a JSON (or OGC) reason.

mod common;
use common::*;

/// Reproducible from the seed alone: the fixture generator's SplitMix64.
use formosa_fixtures::rng::Rng;

const PIECES: &[&str] = &[
    "/",
    "tiles",
    "basemap",
    "cadastral",
    "buildings",
    "pipelines",
    "incidents",
    "nosuch",
    "ogcapi",
    "collections",
    "items",
    "3dtiles",
    "terrain",
    "terrain-rgb",
    "layer.json",
    "tileset.json",
    "styles",
    "fonts",
    "changes",
    "stream",
    "viewer",
    "..",
    "%2e%2e",
    "%00",
    "%ff",
    "0",
    "1",
    "15",
    "16",
    "24",
    "25",
    "99999999999",
    "-1",
    "NaN",
    "1e400",
    "27447",
    "14028",
    ".mvt",
    ".pbf",
    ".glb",
    ".terrain",
    ".png",
    ".json",
    "?",
    "&",
    "=",
    "bbox=",
    "121.5,25,121.6,25.1",
    "1,2,3",
    "limit=",
    "offset=",
    "since=",
    "utility=water",
    "%20",
    "中文",
    "地號",
    "<script>",
    "'",
    "\"",
    ";",
    ",",
    "//",
    "\\",
    "{z}",
    "WenQuanYi Micro Hei Regular",
    "0-255.pbf",
    "65280-65535.pbf",
    // OGC services: key-value pairs and REST paths.
    "wms",
    "wmts",
    "1.0.0",
    "WMTSCapabilities.xml",
    "default",
    "TWD97",
    "GoogleMapsCompatible",
    "SERVICE=WMS&",
    "SERVICE=WMTS&",
    "REQUEST=GetMap&",
    "REQUEST=GetTile&",
    "REQUEST=GetFeatureInfo&",
    "REQUEST=GetCapabilities&",
    "REQUEST=GetLegendGraphic&",
    "VERSION=1.3.0&",
    "VERSION=1.0.0&",
    "LAYERS=basemap&",
    "LAYERS=cadastral,terrain&",
    "LAYER=basemap&",
    "STYLES=&",
    "STYLE=default&",
    "CRS=EPSG:3826&",
    "CRS=EPSG:4326&",
    "CRS=CRS:84&",
    "BBOX=306000,2769000,307000,2770000&",
    "BBOX=25,121,25.1,121.1&",
    "WIDTH=",
    "HEIGHT=",
    "256&",
    "0&",
    "100000&",
    "FORMAT=image/png&",
    "FORMAT=image/jpeg&",
    "TILEMATRIXSET=TWD97&",
    "TILEMATRIX=13&",
    "TILEROW=",
    "TILECOL=",
    "I=10&",
    "J=",
    "QUERY_LAYERS=cadastral&",
    "INFO_FORMAT=application/json&",
    "INFOFORMAT=text/html&",
    "EXCEPTIONS=INIMAGE&",
    "TRANSPARENT=TRUE&",
];

fn mutate(rng: &mut Rng) -> String {
    let mut s = String::from("/");
    for _ in 0..1 + rng.below(9) {
        s.push_str(rng.pick(PIECES));
        if rng.below(3) == 0 {
            s.push('/');
        }
    }
    // Raw byte noise, percent-encoded so the request line stays parseable.
    for _ in 0..rng.below(3) {
        s.push_str(&format!("%{:02X}", rng.below(256)));
    }
    // Characters a request target may not hold raw (hyper rightly refuses those with a
    // bare 400 before any handler runs) go percent-encoded; the rest stays as mutated.
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn send(addr: &str, raw: &[u8]) -> (u16, String) {
    let r = http(addr, raw);
    (r.status, format!("{}{}", r.head, r.text()))
}

#[test]
fn mutated_requests_never_crash_or_5xx() {
    let seed: u64 = std::env::var("FORMOSA_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_F0E5);
    let rounds: usize = std::env::var("FORMOSA_FUZZ_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3000);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("f.gpkg");
    formosa_ok(&store, &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")]);
    formosa_ok(&store, &["import", "pipelines", &fixture("pipelines/pipelines_2d.gpkg")]);
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    formosa_ok(&store, &["import", "terrain", &fixture("terrain/dem_twd97_20m.tif")]);
    let server = serve(&store, |cmd| {
        cmd.args(["--cache-mb", "0"]).current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).env("FORMOSA_WRITE_TOKEN", "fuzz");
    });
    let addr = server.addr.clone();
    let mut rng = Rng::new(seed);
    let methods = ["GET", "GET", "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"];
    let bodies = [
        "",
        "{",
        "null",
        "[]",
        "{\"type\":\"Feature\"}",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[121.5,25]},\"properties\":{\"type\":\"flood\"}}",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1e308,1],[2,2]]]},\"properties\":{\"severity\":1e99}}",
        "{\"properties\":{\"status\":\"damaged\",\"x\":{\"y\":[1,2,{}]}}}",
        "{\"geometry\":{\"type\":\"GeometryCollection\",\"geometries\":[]}}",
    ];
    for i in 0..rounds {
        let method = rng.pick(&methods);
        let path = mutate(&mut rng);
        let body = if method == "GET" || method == "HEAD" { "" } else { rng.pick(&bodies) };
        let auth = if rng.below(2) == 0 { "Authorization: Bearer fuzz\r\n" } else { "" };
        let raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let (status, text) = send(&addr, raw.as_bytes());
        assert!(status != 0, "round {i}: no answer to {method} {path} (seed {seed})");
        assert!(status < 500, "round {i}: {method} {path} with {body:?} → {status} (seed {seed})\n{text}");
        if (400..500).contains(&status) && method != "HEAD" {
            assert!(text.contains("application/problem+json") || text.contains("xml"), "round {i}: {method} {path} → {status} without a JSON reason\n{text}");
        }
    }
    let mut server = server;
    assert!(server.child.try_wait().unwrap().is_none(), "the server is still running");
    assert!(!server.log().iter().any(|l| l.contains("panicked")), "no panic in the server log");
}

#[test]
fn parsers_take_random_input_without_panicking() {
    use formosa_cli::seed;
    use formosa_encoders::{geojson, render};
    use formosa_tile_server::{http as http_tiles, ogc};
    let mut rng = Rng::new(0xF00D);
    let alphabet: Vec<char> = "0123456789,.-e+ E\u{0}中{}[]\":abcfxyz/".chars().collect();
    for _ in 0..20_000 {
        let s: String = (0..rng.below(24)).map(|_| alphabet[rng.below(alphabet.len())]).collect();
        let _ = seed::parse_bbox(&s);
        let kvp = ogc::Kvp::parse(Some(&s));
        let _ = kvp.get("BBOX");
        let _ = ogc::parse_bbox("BBOX", &s);
        let _ = ogc::parse_int("WIDTH", &s, 1..=4096);
        let _ = render::crs::MapCrs::parse(&s);
        let _ = render::encode::ImageFormat::parse(&s);
        let _ = seed::parse_zooms(&s);
        let parts: Vec<&str> = s.splitn(3, '/').collect();
        if parts.len() == 3 {
            let _ = http_tiles::parse_tile(parts[0], parts[1], parts[2], &[".mvt"]);
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
            let _ = geojson::parse_geometry(&v);
            let _ = geojson::parse_feature(&v, formosa_store::LayerKind::Incidents);
        }
    }
    // Structured GeoJSON noise: deep nesting, huge numbers, wrong types.
    for _ in 0..5_000 {
        let n = |rng: &mut Rng| match rng.below(5) {
            0 => serde_json::json!(rng.next_u64() as f64 * 1e300),
            1 => serde_json::json!(-(rng.below(400) as f64)),
            2 => serde_json::json!("x"),
            3 => serde_json::json!(null),
            _ => serde_json::json!(rng.below(180) as f64),
        };
        let ring: Vec<serde_json::Value> = (0..rng.below(6)).map(|_| serde_json::json!([n(&mut rng), n(&mut rng)])).collect();
        let kinds = ["Point", "LineString", "Polygon", "MultiPolygon", "MultiLineString", "MultiPoint", "Nope"];
        let g = serde_json::json!({ "type": kinds[rng.below(kinds.len())], "coordinates": if rng.below(2) == 0 { serde_json::json!([ring]) } else { serde_json::json!(ring) } });
        let _ = geojson::parse_geometry(&g);
    }
}
