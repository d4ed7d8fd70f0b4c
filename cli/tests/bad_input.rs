//! Bad input: each case gets a precise one-line reason, a non-zero exit when nothing could
//! be imported, and leaves the store exactly as it was.

mod common;
use common::*;
use std::path::PathBuf;

/// A store holding one good layer, and its summary before the bad import.
fn store_with_buildings() -> (tempfile::TempDir, PathBuf, Vec<(String, String, u64)>) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    let before = layer_summary(&store);
    (dir, store, before)
}

/// Runs a bad import and checks: failure, one line starting "error:" that contains each
/// of `phrases`, and the store unchanged.
fn refused(args: &[&str], phrases: &[&str]) {
    let (_dir, store, before) = store_with_buildings();
    let r = formosa(&store, args);
    assert_ne!(r.code, 0, "formosa {args:?} should fail:\n{}", r.stdout);
    let line = r.error_line();
    assert!(line.starts_with("error: "), "{args:?}: last stderr line is not an error: {}", r.stderr);
    for p in phrases {
        assert!(line.contains(p), "{args:?}: '{line}' does not say '{p}'");
    }
    assert_eq!(r.stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(layer_summary(&store), before, "the store changed after a refused import");
    assert_eq!(tool("sqlite3", &[&store.display().to_string(), "PRAGMA integrity_check"]).trim(), "ok");
}

#[test]
fn truncated_shapefile() {
    refused(&["import", "buildings", &fixture("bad/truncated.shp")], &["truncated.shp"]);
}

#[test]
fn missing_prj_without_srs() {
    refused(&["import", "cadastral", &fixture("bad/no_prj.shp")], &["no coordinate reference system", "--srs"]);
}

#[test]
fn missing_prj_with_srs_imports() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let r = formosa_ok(&store, &["import", "cadastral", &fixture("bad/no_prj.shp"), "--srs", "EPSG:3826"]);
    assert!(r.stdout.contains("from EPSG:3826"), "{}", r.stdout);
    assert!(ogr_count(&store.display().to_string(), Some("cadastral")) > 0);
}

#[test]
fn empty_file_and_empty_collection() {
    refused(&["import", "buildings", &fixture("bad/empty.geojson")], &["empty"]);
    refused(&["import", "buildings", &fixture("bad/no_features.geojson")], &["empty"]);
}

#[test]
fn raster_given_to_a_vector_importer() {
    refused(&["import", "buildings", &fixture("terrain/dem_twd97_20m.tif")], &["is a raster", "import buildings"]);
}

#[test]
fn vector_given_to_the_terrain_importer() {
    refused(&["import", "terrain", &fixture("buildings/buildings.shp")], &["vector data", "import terrain"]);
}

#[test]
fn not_a_shapefile() {
    refused(&["import", "cadastral", &fixture("bad/not_a_shapefile.shp")], &["not_a_shapefile.shp"]);
}

#[test]
fn missing_file() {
    refused(&["import", "cadastral", "/nonexistent/parcels.shp"], &["no such file"]);
}

#[test]
fn big5_without_declared_encoding_is_refused_then_accepted_with_encoding() {
    refused(&["import", "cadastral", &fixture("bad/big5_no_cpg.shp")], &["not valid UTF-8", "--encoding cp950"]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "cadastral", &fixture("bad/big5_no_cpg.shp"), "--encoding", "cp950"]);
    let sections = ogr_sql(&store.display().to_string(), "SELECT section FROM cadastral");
    assert!(sections.iter().all(|s| s.contains('段')), "{sections:?}");
}

#[test]
fn storey_heights_that_are_no_storeys_are_refused_from_the_flag_and_the_config() {
    let buildings = fixture("buildings/buildings.shp");
    refused(&["import", "buildings", &buildings, "--storey-height", "0"], &["--storey-height", "not a storey height"]);
    // formosa.toml went unchecked: 0 gave buildings of height 0 (found by cargo-fuzz).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("formosa.toml");
    std::fs::write(&config, "[import]\nstorey_height_m = 0\n").unwrap();
    refused(&["--config", config.to_str().unwrap(), "import", "buildings", &buildings], &["[import] storey_height_m", "not a storey height"]);
}

#[test]
fn invalid_polygons_are_repaired_or_skipped_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let src = fixture("bad/invalid_polygons.geojson");
    let r = formosa_ok(&store, &["import", "buildings", &src]);
    let out = &r.stdout;
    assert!(out.contains("1 × repaired an invalid polygon"), "bow-tie not repaired:\n{out}");
    assert!(out.contains("× closed an unclosed ring") || out.contains("unclosed"), "unclosed ring not closed:\n{out}");
    assert!(out.contains("no area"), "collapsed polygon not reported:\n{out}");
    assert!(out.contains("no geometry"), "null geometry not reported:\n{out}");
    let skipped = out.lines().filter(|l| l.trim_start().starts_with("skipped feature")).count() as u64;
    assert_eq!(ogr_count(&store.display().to_string(), Some("buildings")) + skipped, ogr_count(&src, None));
    // What was stored is valid as GEOS sees it.
    let invalid = ogr_sql(&store.display().to_string(), "SELECT count(*) FROM buildings WHERE NOT ST_IsValid(geom)");
    assert_eq!(invalid, vec!["0"]);
}

#[test]
fn absurd_heights_and_depths_are_skipped_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let r = formosa_ok(&store, &["import", "buildings", &fixture("bad/absurd_values.geojson")]);
    assert!(r.stdout.contains("-5 m is impossible"), "{}", r.stdout);
    assert!(r.stdout.contains("2000 m is impossible"), "{}", r.stdout);
    let r = formosa_ok(&store, &["import", "pipelines", &fixture("bad/absurd_pipes.geojson")]);
    assert!(r.stdout.contains("depth -3 m is impossible"), "{}", r.stdout);
    assert!(r.stdout.contains("depth 250 m is impossible"), "{}", r.stdout);
}

#[test]
fn dem_with_only_nodata() {
    refused(&["import", "terrain", &fixture("bad/nodata_dem.tif")], &["no valid cells"]);
}

#[test]
fn unknown_crs_bad_layer_name_and_bad_mapping() {
    let shp = fixture("cadastral/taipei_parcels.shp");
    refused(&["import", "cadastral", &shp, "--srs", "EPSG:999999"], &["unknown CRS 'EPSG:999999'"]);
    refused(&["import", "cadastral", &shp, "--layer", "Bad Name"], &["layer name 'Bad Name' is not allowed"]);
    refused(&["import", "cadastral", &shp, "--layer", "gpkg_contents"], &["not allowed"]);
    refused(&["import", "cadastral", &shp, "--map", "parcel_no=NOPE"], &["no field 'NOPE'"]);
    refused(&["import", "vector", &shp], &["needs --layer"]);
    // Appending parcels to a buildings layer mixes kinds.
    refused(&["import", "cadastral", &shp, "--layer", "buildings", "--append"], &["cannot append cadastral"]);
}

/// A GeoPackage of two layers: `pipelines` (the fixture's, with geometry) and `owners`, a
/// table of attributes only (as agencies ship code lists beside their layers).
fn two_layer_gpkg(dir: &std::path::Path) -> String {
    let gpkg = dir.join("utility.gpkg").display().to_string();
    tool("ogr2ogr", &["-f", "GPKG", &gpkg, &fixture("pipelines/pipelines_2d.gpkg"), "pipelines"]);
    let csv = dir.join("owners.csv");
    std::fs::write(&csv, "code,owner\nTWC,台灣自來水公司\nCPC,台灣中油\n").unwrap();
    tool("ogr2ogr", &["-update", "-f", "GPKG", &gpkg, &csv.display().to_string(), "-nln", "owners"]);
    gpkg
}

#[test]
fn a_table_with_no_geometry_column_says_so_not_that_the_crs_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = two_layer_gpkg(dir.path());
    refused(
        &["import", "pipelines", &gpkg, "--source-layer", "owners"],
        &["layer 'owners' has no geometry column", "a table of attributes only", "its layers with geometry are: pipelines (pick one with --source-layer)"],
    );
    let r = formosa(&dir.path().join("s.gpkg"), &["import", "pipelines", &gpkg, "--source-layer", "owners"]);
    assert!(!r.error_line().contains("coordinate reference system") && !r.error_line().contains("--srs"), "{}", r.error_line());
    // A source with no geometry at all (a CSV of attributes): no layer to point to.
    refused(
        &["import", "vector", &dir.path().join("owners.csv").display().to_string(), "--layer", "owners"],
        &["owners.csv: layer 'owners' has no geometry column", "nothing to put on the map"],
    );
}

#[test]
fn a_layer_that_is_not_in_a_multi_layer_source_lists_those_that_are() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = two_layer_gpkg(dir.path());
    refused(
        &["import", "pipelines", &gpkg, "--source-layer", "water_mains"],
        &["utility.gpkg has no layer 'water_mains'", "its layers are: ", "pipelines", "owners", "--source-layer"],
    );
    // The layer that is there imports.
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "pipelines", &gpkg, "--source-layer", "pipelines"]);
    assert_eq!(ogr_count(&store.display().to_string(), Some("pipelines")), ogr_count(&fixture("pipelines/pipelines_2d.gpkg"), None));
}

#[test]
fn raster_band_types_the_importers_do_not_take() {
    // A DEM (one Float32 band) given to the imagery importer.
    refused(
        &["import", "imagery", &fixture("terrain/dem_twd97_20m.tif"), "--layer", "ortho"],
        &["band 1 is Float32, not 8-bit", "`formosa import imagery` takes 8-bit (Byte) bands", "looks like a DEM (`formosa import terrain`)"],
    );
    // An RGB orthophoto given to the terrain importer.
    refused(
        &["import", "terrain", &fixture("imagery/typhoon_ortho_twd97.tif")],
        &["band 1 is 8-bit, one of 3 bands of colour: this is an image, not a DEM", "formosa import imagery"],
    );
    // Complex numbers (a radar product) are no heights.
    let dir = tempfile::tempdir().unwrap();
    let complex = dir.path().join("complex.tif").display().to_string();
    tool("gdal_translate", &["-q", "-ot", "CFloat32", &fixture("terrain/dem_twd97_20m.tif"), &complex]);
    refused(&["import", "terrain", &complex], &["band 1 is CFloat32 (complex numbers)", "`formosa import terrain` takes one band of heights", "gdal_translate -ot Float32"]);
}

#[test]
fn a_store_given_as_the_source_is_refused_with_what_to_do_instead() {
    let dir = tempfile::tempdir().unwrap();
    // A Formosa store, vector and raster.
    let other = dir.path().join("other.gpkg");
    formosa_ok(&other, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    formosa_ok(&other, &["import", "terrain", &fixture("terrain/dem_twd97_20m.tif")]);
    let o = other.display().to_string();
    refused(&["import", "buildings", &o], &["other.gpkg is a Formosa store (layers: buildings, terrain)", "not source data", "formosa publish"]);
    refused(&["import", "terrain", &o], &["is a Formosa store", "serve it with `formosa --store"]);
    // Tile archives seeded from it: MBTiles and PMTiles.
    let mbtiles = dir.path().join("b.mbtiles").display().to_string();
    let pmtiles = dir.path().join("b.pmtiles").display().to_string();
    for out in [&mbtiles, &pmtiles] {
        formosa_ok(&other, &["seed", "--bbox", "121.555,25.030,121.570,25.040", "--zoom", "14-15", "--tiles", "buildings", out]);
    }
    refused(&["import", "buildings", &mbtiles], &["b.mbtiles is an MBTiles file, a tile archive", "import the files it was made from"]);
    refused(&["import", "vector", &pmtiles, "--layer", "b"], &["b.pmtiles is a PMTiles archive, a tile archive", "formosa serve --archive NAME="]);
    refused(&["import", "imagery", &pmtiles], &["is a PMTiles archive"]);
}
