//! `formosa import imagery`: the post-typhoon orthophoto fixture (TWD97, JPEG, internal
//! mask) becomes a tile pyramid GDAL reads back in place, and WMS draws it — in TWD97 and
//! in WGS84 — with its flooded area and red tarpaulin where the source has them. Bad
//! images are refused with one line, leaving the store as it was.

mod common;

use common::*;

/// Where the fixture's flooded area and tarpaulin are (data-fixtures/src/imagery.rs), in
/// EPSG:3826, and their colours.
const FLOOD: (f64, f64) = (306_713.0, 2_769_661.0);
const MARKER: (f64, f64) = (306_463.0, 2_769_861.0);
const FLOOD_RGB: [u8; 3] = [40, 90, 190];
const MARKER_RGB: [u8; 3] = [210, 30, 30];

fn close(p: &[u8], rgb: [u8; 3], tolerance: i32) -> bool {
    p.iter().zip(rgb).all(|(a, b)| (*a as i32 - b as i32).abs() <= tolerance)
}

/// PROJ's reading of an EPSG:3826 point in WGS84 (lon, lat).
fn to_wgs84(p: (f64, f64)) -> (f64, f64) {
    let out = std::process::Command::new("cs2cs")
        .args(["-f", "%.9f", "EPSG:3826", "EPSG:4326"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            writeln!(c.stdin.take().unwrap(), "{} {}", p.0, p.1)?;
            c.wait_with_output()
        })
        .expect("cs2cs (proj-bin)");
    let v: Vec<f64> = String::from_utf8(out.stdout).unwrap().split_whitespace().take(2).map(|s| s.parse().unwrap()).collect();
    (v[1], v[0])
}

#[test]
fn an_orthophoto_is_tiled_read_back_by_gdal_and_drawn_by_wms_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let run = formosa_ok(&store, &["import", "imagery", &fixture("imagery/typhoon_ortho_twd97.tif"), "--layer", "typhoon_ortho"]);
    assert!(run.stdout.contains("typhoon_ortho") && run.stdout.contains("imagery"), "{}", run.stdout);
    let layers = layer_summary(&store);
    assert!(layers.iter().any(|(n, k, tiles)| n == "typhoon_ortho" && k == "imagery" && *tiles > 10), "{layers:?}");

    // GDAL reads the pyramid as a GeoPackage raster: Web Mercator, the image's colours in
    // place, transparent outside the mosaic's mask.
    let gpkg = format!("GPKG:{}:typhoon_ortho", store.display());
    let info = tool("gdalinfo", &[&gpkg]);
    assert!(info.contains("Pseudo-Mercator") && info.contains("Band 4"), "{info}");
    for (point, rgb) in [(FLOOD, FLOOD_RGB), (MARKER, MARKER_RGB)] {
        let (lon, lat) = to_wgs84(point);
        let out = tool("gdallocationinfo", &["-valonly", "-wgs84", &gpkg, &lon.to_string(), &lat.to_string()]);
        let v: Vec<u8> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert!(close(&v[..3], rgb, 12) && v[3] == 255, "GDAL reads {v:?} at {point:?}, the source has {rgb:?}");
    }
    // The source's masked frame (10 m inside its north-west corner) is transparent.
    let (lon, lat) = to_wgs84((306_313.0 + 4.0, 2_769_961.0 - 4.0));
    let corner = tool("gdallocationinfo", &["-valonly", "-wgs84", &gpkg, &lon.to_string(), &lat.to_string()]);
    assert_eq!(corner.lines().nth(3).map(str::trim), Some("0"), "masked pixels must be transparent: {corner}");

    // WMS draws it: 1 m pixels in TWD97 and a WGS84 map (lat/lon axis order).
    let server = serve(&store, |_| {});
    let get = |path: &str| {
        let r = http_get(&server.addr, path);
        assert_eq!(r.content_type(), "image/png", "{path}: {}", r.text());
        image::load_from_memory(&r.body).unwrap().to_rgba8()
    };
    let (x0, y1) = (FLOOD.0 - 400.0, FLOOD.1 + 300.0);
    let twd97 = get(&format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=typhoon_ortho&STYLES=&CRS=EPSG:3826&BBOX={x0},{},{},{y1}&WIDTH=800&HEIGHT=600&FORMAT=image/png&TRANSPARENT=TRUE",
        y1 - 600.0,
        x0 + 800.0
    ));
    for (point, rgb) in [(FLOOD, FLOOD_RGB), (MARKER, MARKER_RGB)] {
        let (px, py) = ((point.0 - x0) as u32, (y1 - point.1) as u32);
        let p = twd97.get_pixel(px, py).0;
        assert!(close(&p[..3], rgb, 12) && p[3] == 255, "TWD97 map pixel ({px}, {py}) is {p:?}, the source has {rgb:?}");
    }
    assert_eq!(twd97.get_pixel(2, 2).0[3], 0, "outside the image the overlay is transparent");
    let (lon, lat) = to_wgs84(MARKER);
    let d = 0.0005;
    let wgs84 = get(&format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=typhoon_ortho&STYLES=&CRS=EPSG:4326&BBOX={},{},{},{}&WIDTH=100&HEIGHT=100&FORMAT=image/png",
        lat - d,
        lon - d,
        lat + d,
        lon + d
    ));
    assert!(close(&wgs84.get_pixel(50, 50).0[..3], MARKER_RGB, 12), "WGS84 map centre: {:?}", wgs84.get_pixel(50, 50).0);
    // The base map draws it under the parcels (its pixels show where parcels are not filled opaque).
    let caps = http_get(&server.addr, "/wms?SERVICE=WMS&REQUEST=GetCapabilities").text();
    assert!(caps.contains("<Name>typhoon_ortho</Name>") && caps.contains("queryable=\"0\" opaque=\"0\"><Name>typhoon_ortho"), "listed, not queryable");
}

#[test]
fn bad_images_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "imagery", &fixture("imagery/typhoon_ortho_twd97.tif"), "--layer", "ortho"]);
    let before = layer_summary(&store);
    // The same image without its CRS: through a VRT whose <SRS> is cut out.
    let vrt = dir.path().join("no_crs.vrt");
    tool("gdal_translate", &["-q", "-of", "VRT", &fixture("imagery/typhoon_ortho_twd97.tif"), vrt.to_str().unwrap()]);
    let text = std::fs::read_to_string(&vrt).unwrap();
    let (head, rest) = text.split_once("<SRS").expect("the VRT has an SRS");
    std::fs::write(&vrt, format!("{head}{}", rest.split_once("</SRS>").unwrap().1)).unwrap();
    let no_crs = dir.path().join("no_crs.tif");
    tool("gdal_translate", &["-q", vrt.to_str().unwrap(), no_crs.to_str().unwrap()]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![fixture("terrain/dem_twd97_20m.tif")], "not 8-bit"),
        (vec![fixture("buildings/buildings.shp")], "is vector data"),
        (vec![fixture("bad/not_a_shapefile.shp")], "not a raster"),
        (vec!["/nonexistent/ortho.tif".into()], "no such file"),
        (vec![no_crs.display().to_string()], "no coordinate reference system"),
        (vec![fixture("imagery/typhoon_ortho_twd97.tif"), "--layer".into(), "cadastral".into(), "--srs".into(), "EPSG:9999999".into()], "unknown CRS"),
        (vec![fixture("imagery/typhoon_ortho_twd97.tif"), "--layer".into(), "Bad Name".into()], "not allowed"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["import", "imagery"];
        full.extend(args.iter().map(String::as_str));
        let run = formosa(&store, &full);
        assert_ne!(run.code, 0, "{full:?} must fail");
        assert!(run.error_line().starts_with("error: ") && run.error_line().contains(expected), "{full:?}: {}", run.error_line());
        assert_eq!(layer_summary(&store), before, "{full:?} changed the store");
    }
    // An imagery import never replaces a feature layer.
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    let run = formosa(&store, &["import", "imagery", &fixture("imagery/typhoon_ortho_twd97.tif"), "--layer", "buildings"]);
    assert!(run.code != 0 && run.error_line().contains("buildings"), "{}", run.error_line());
    assert!(layer_summary(&store).iter().any(|(n, k, _)| n == "buildings" && k == "buildings"));
}
