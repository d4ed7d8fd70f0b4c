//! Every importer on the bundled fixtures, checked with GDAL's own tools: the store must
//! be an ordinary GeoPackage whose layers, counts, CRS, attributes and positions match the
//! agencies' source files.

mod common;
use common::*;

/// Imports all fixtures into a fresh store, as `formosa demo` does, one command each.
fn demo_store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.gpkg");
    let steps: [&[&str]; 8] = [
        &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")],
        &["import", "cadastral", &fixture("cadastral/twd67_sheet.shp"), "--append"],
        &["import", "pipelines", &fixture("pipelines/pipelines_2d.gpkg")],
        &["import", "pipelines", &fixture("pipelines/pipelines_3d.geojson"), "--append"],
        &["import", "buildings", &fixture("buildings/buildings.shp")],
        &["import", "vector", &fixture("admin/towns.geojson"), "--layer", "towns"],
        &["import", "vector", &fixture("admin/counties.geojson"), "--layer", "counties"],
        &["import", "terrain", &fixture("terrain/dem_twd97_20m.tif")],
    ];
    for args in steps {
        formosa_ok(&store, args);
    }
    (dir, store)
}

fn skipped_in(summary: &str) -> u64 {
    // "… imported N, repaired R, skipped S of T read …"
    let after = summary.split("skipped ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn store_is_a_geopackage_with_every_layer_and_count() {
    let (_dir, store) = demo_store();
    let s = store.display().to_string();
    let listing = tool("ogrinfo", &["-ro", "-q", &s]);
    for layer in ["cadastral", "pipelines", "buildings", "towns", "counties"] {
        let listed = listing.lines().any(|l| l.split_once(": ").is_some_and(|(_, rest)| rest == layer || rest.starts_with(&format!("{layer} ("))));
        assert!(listed, "{layer} missing from:\n{listing}");
    }
    let parcels = ogr_count(&fixture("cadastral/taipei_parcels.shp"), None) + ogr_count(&fixture("cadastral/twd67_sheet.shp"), None);
    assert_eq!(ogr_count(&s, Some("cadastral")), parcels);
    let pipes = ogr_count(&fixture("pipelines/pipelines_2d.gpkg"), None) + ogr_count(&fixture("pipelines/pipelines_3d.geojson"), None);
    assert_eq!(ogr_count(&s, Some("pipelines")), pipes);
    assert_eq!(ogr_count(&s, Some("towns")), ogr_count(&fixture("admin/towns.geojson"), None));
    // Every layer is in WGS84 lon/lat.
    for layer in ["cadastral", "pipelines", "buildings"] {
        let info = tool("ogrinfo", &["-ro", "-so", &s, layer]);
        assert!(info.contains("ID[\"EPSG\",4326]"), "{layer} is not EPSG:4326:\n{info}");
    }
    // The catalogue agrees with GDAL.
    let summary = layer_summary(&store);
    assert!(summary.contains(&("cadastral".into(), "cadastral".into(), parcels)), "{summary:?}");
    // SQLite agrees the file is sound, and the spatial index has one entry per feature.
    assert_eq!(tool("sqlite3", &[&s, "PRAGMA integrity_check"]).trim(), "ok");
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM rtree_cadastral_geom"), vec![parcels.to_string()]);
}

#[test]
fn big5_parcel_numbers_and_sections_survive_and_areas_are_filled() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let src = fixture("cadastral/taipei_parcels.shp");
    let r = formosa_ok(&store, &["import", "cadastral", &src]);
    assert_eq!(skipped_in(&r.stdout), 0, "{}", r.stdout);
    assert!(r.stdout.contains("area computed in TWD97"), "{}", r.stdout);
    // GDAL decodes the cp950 DBF through its .cpg; the store must hold the same text.
    let numbers = ogr_sql(&src, "SELECT \"地號\" FROM taipei_parcels");
    let sections = ogr_sql(&src, "SELECT \"段名\" FROM taipei_parcels");
    let s = store.display().to_string();
    let stored_numbers = ogr_sql(&s, "SELECT parcel_no FROM cadastral ORDER BY fid");
    let stored_sections = ogr_sql(&s, "SELECT section FROM cadastral ORDER BY fid");
    assert_eq!(stored_numbers, numbers);
    assert_eq!(stored_sections, sections);
    assert!(stored_sections.iter().any(|s| s.contains('段')), "no Chinese section names: {:?}", &stored_sections[..3]);
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM cadastral WHERE area_m2 IS NULL OR area_m2 <= 0"), vec!["0"]);
    // Where the source gives an area, the computed one for a sibling parcel is of the
    // same order: a Taipei parcel is tens to thousands of m².
    let areas: Vec<f64> = ogr_sql(&s, "SELECT area_m2 FROM cadastral").iter().map(|a| a.parse().unwrap()).collect();
    assert!(areas.iter().all(|a| *a > 5.0 && *a < 100_000.0), "implausible areas");
}

#[test]
fn positions_match_gdal_reprojection() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let src = fixture("buildings/buildings.shp");
    formosa_ok(&store, &["import", "buildings", &src]);
    // ogr2ogr reprojects the same file independently; the extents must agree to ~1 cm.
    let reprojected = dir.path().join("ogr.gpkg");
    tool("ogr2ogr", &["-f", "GPKG", "-t_srs", "EPSG:4326", &reprojected.display().to_string(), &src]);
    let extent = |path: &str, layer: &str| -> Vec<f64> {
        let info = tool("ogrinfo", &["-ro", "-so", path, layer]);
        let line = info.lines().find(|l| l.starts_with("Extent:")).unwrap().to_string();
        line.replace(['(', ')', ',', '-'], " ").split_whitespace().filter_map(|t| t.parse().ok()).collect()
    };
    let ours = extent(&store.display().to_string(), "buildings");
    let theirs = extent(&reprojected.display().to_string(), "buildings");
    assert_eq!(ours.len(), 4);
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((a - b).abs() < 1e-7, "extent {ours:?} vs ogr2ogr {theirs:?}");
    }
    // Taipei: lon 121.5–121.6, lat 25.0–25.1.
    assert!(ours[0] > 121.45 && ours[2] < 121.65 && ours[1] > 24.95 && ours[3] < 25.1, "{ours:?}");
}

#[test]
fn twd67_sheet_lands_in_taipei_with_the_datum_shift() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let sheet = fixture("cadastral/twd67_sheet.shp");
    formosa_ok(&store, &["import", "cadastral", &sheet, "--layer", "sheet67"]);
    let s = store.display().to_string();
    let ours: Vec<f64> = ogr_sql(&s, "SELECT min(minx), min(miny), max(maxx), max(maxy) FROM rtree_sheet67_geom").iter().map(|v| v.parse().unwrap()).collect();
    // Back in TWD97 TM2 (an independent PROJ call), the sheet lies in the fixture area.
    let corners = format!("{} {}\n{} {}\n", ours[0], ours[1], ours[2], ours[3]);
    let out = std::process::Command::new("gdaltransform")
        .args(["-s_srs", "EPSG:4326", "-t_srs", "EPSG:3826", "-output_xy"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(corners.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let tm: Vec<f64> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(|v| v.parse().unwrap()).collect();
    assert!(tm[0] > 303_000.0 && tm[2] < 309_000.0 && tm[1] > 2_766_000.0 && tm[3] < 2_772_000.0, "sheet at TWD97 {tm:?}");
    // PROJ's own ballpark TWD67 transformation (what plain ogr2ogr does) puts it ~850 m away.
    let ballpark = dir.path().join("ballpark.gpkg");
    tool("ogr2ogr", &["-f", "GPKG", "-t_srs", "EPSG:4326", &ballpark.display().to_string(), &sheet]);
    let info = tool("ogrinfo", &["-ro", "-so", &ballpark.display().to_string(), "twd67_sheet"]);
    let line = info.lines().find(|l| l.starts_with("Extent:")).unwrap();
    let theirs: Vec<f64> = line.replace(['(', ')', ',', '-'], " ").split_whitespace().filter_map(|t| t.parse().ok()).collect();
    let shift_m = (ours[0] - theirs[0]).abs() * 101_000.0;
    assert!(shift_m > 600.0 && shift_m < 1100.0, "datum shift east-west {shift_m:.0} m");
}

#[test]
fn buildings_get_heights_from_floors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let r = formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp"), "--storey-height", "3.0"]);
    assert!(r.stdout.contains("height from"), "{}", r.stdout);
    let s = store.display().to_string();
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM buildings WHERE height_m IS NULL"), vec!["0"]);
    let pairs = ogr_sql(&s, "SELECT height_m - floors * 3.0 FROM buildings WHERE floors >= 1");
    assert!(!pairs.is_empty());
    assert!(pairs.iter().all(|d| d.parse::<f64>().unwrap().abs() < 1e-6), "{pairs:?}");
}

#[test]
fn pipelines_keep_depth_type_and_3d_positions() {
    let (_dir, store) = demo_store();
    let s = store.display().to_string();
    let types = ogr_sql(&s, "SELECT DISTINCT utility FROM pipelines ORDER BY utility");
    assert_eq!(types, vec!["gas", "power", "sewer", "telecom", "water"]);
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM pipelines WHERE depth_m < 0 OR depth_m > 100"), vec!["0"]);
    // The 3D duct banks keep their z (pipe-top elevation), which lies below the ground.
    let wkt = tool("ogrinfo", &["-ro", "-q", &s, "pipelines", "-where", "utility = 'power' AND fid > (SELECT max(fid) - 5 FROM pipelines)"]);
    assert!(wkt.contains("MULTILINESTRING Z") || wkt.contains("LINESTRING Z"), "no 3D geometry:\n{}", &wkt[..wkt.len().min(2000)]);
}

#[test]
fn terrain_pyramid_reads_back_in_gdal_and_matches_the_dem() {
    let (_dir, store) = demo_store();
    let ds = format!("GPKG:{}:terrain", store.display());
    let info = tool("gdalinfo", &[&ds]);
    assert!(info.contains("Float32"), "{info}");
    let dem = fixture("terrain/dem_twd97_20m.tif");
    // Points inside the DEM (lon, lat): basin floor and hills.
    for (lon, lat) in [(121.52, 25.03), (121.55, 25.04), (121.575, 25.025), (121.58, 25.05)] {
        let (lon, lat) = (lon.to_string(), lat.to_string());
        let a: f64 = tool("gdallocationinfo", &["-valonly", "-wgs84", &dem, &lon, &lat]).trim().parse().unwrap();
        let b: f64 = tool("gdallocationinfo", &["-valonly", "-wgs84", &ds, &lon, &lat]).trim().parse().unwrap();
        // Nearest-cell reads of a 20 m grid and a ~17 m grid: allow the slope across a cell.
        assert!((a - b).abs() < 3.0, "at {lon},{lat}: DEM {a} m, pyramid {b} m");
    }
}

/// Summaries and `--report` JSON in the units of the data: a DEM's cells and pyramid
/// tiles, an image's pixels and tiles, a vector file's features; rates to match.
#[test]
fn summaries_and_reports_count_in_the_units_of_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let s = store.display().to_string();
    let json = |name: &str| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap() };
    let report = |name: &str| dir.path().join(name).display().to_string();

    let r = formosa_ok(&store, &["import", "terrain", &fixture("terrain/dem_twd97_20m.tif"), "--report", &report("terrain.json")]);
    let tiles = ogr_sql(&s, "SELECT feature_count FROM formosa_layers WHERE name = 'terrain'")[0].clone();
    // The fixture DEM is 400 × 400 cells.
    assert!(r.stdout.contains(&format!("read 160000 DEM cells, wrote {tiles} pyramid tiles (z0–z")), "{}", r.stdout);
    assert!(r.stdout.contains(" cells/s)") && !r.stdout.contains("features"), "{}", r.stdout);
    let t = json("terrain.json");
    assert_eq!(t["cells_read"], 160000, "{t}");
    assert_eq!(t["tiles_written"].to_string(), tiles, "{t}");
    assert!(t["cells_per_s"].as_f64().unwrap() > 0.0 && t.get("read").is_none() && t.get("imported").is_none(), "{t}");

    let r = formosa_ok(&store, &["import", "imagery", &fixture("imagery/typhoon_ortho_twd97.tif"), "--layer", "ortho", "--report", &report("imagery.json")]);
    // 800 × 600 pixels.
    assert!(r.stdout.contains("read 480000 pixels, wrote ") && r.stdout.contains(" tiles (z0–z") && r.stdout.contains(" pixels/s)"), "{}", r.stdout);
    assert!(!r.stdout.contains("features"), "{}", r.stdout);
    let i = json("imagery.json");
    assert_eq!(i["pixels_read"], 480000, "{i}");
    assert!(i["tiles_written"].as_u64().unwrap() > 0 && i["pixels_per_s"].as_f64().unwrap() > 0.0, "{i}");

    let r = formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp"), "--report", &report("buildings.json")]);
    let stored = ogr_count(&s, Some("buildings"));
    assert!(r.stdout.contains(&format!("imported {stored}, repaired ")) && r.stdout.contains(" of 1215 read, in ") && r.stdout.contains(" features/s)"), "{}", r.stdout);
    let b = json("buildings.json");
    assert_eq!((b["read"].as_u64(), b["imported"].as_u64()), (Some(1215), Some(stored)), "{b}");
    assert!(b["features_per_s"].as_f64().unwrap() > 0.0 && b["skipped"].is_array(), "{b}");
}
