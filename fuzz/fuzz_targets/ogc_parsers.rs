//! The request parsers on their own (fast, so libFuzzer explores deep): OGC key-value
//! pairs and their values (BBOX, sizes, CRS, formats), tile paths, seed boxes and zoom
//! ranges, and GeoJSON features for writes. They may refuse anything, but not panic, and
//! a refusal must say why.
#![no_main]

use formosa_cli::seed;
use formosa_encoders::{geojson, render};
use formosa_tile_server::{http as http_tiles, ogc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let kvp = ogc::Kvp::parse(Some(s));
    for key in ["BBOX", "WIDTH", "CRS", "FORMAT", "LAYERS", "TILEMATRIX", "TILEROW"] {
        if let Some(v) = kvp.get(key) {
            if let Err(e) = ogc::parse_bbox(key, v) {
                assert!(!e.text.is_empty());
            }
            if let Err(e) = ogc::parse_int(key, v, 1..=4096) {
                assert!(!e.text.is_empty());
            }
            let _ = render::crs::MapCrs::parse(v);
            let _ = render::encode::ImageFormat::parse(v);
        }
    }
    let _ = seed::parse_bbox(s);
    let _ = seed::parse_zooms(s);
    let parts: Vec<&str> = s.splitn(3, '/').collect();
    if let [z, x, y] = parts[..] {
        if let Err(p) = http_tiles::parse_tile(z, x, y, &[".mvt", ".pbf"]) {
            assert!(!p.detail.is_empty() && p.status >= 400 && p.status < 500, "{s:?}: {p:?}");
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
        let _ = geojson::parse_geometry(&v);
        let _ = geojson::parse_feature(&v, formosa_store::LayerKind::Incidents);
    }
});
