//! Deliberately broken or suspicious inputs, one failure mode per file, so the
//! importers' error paths (refuse, repair, warn) can be tested one by one.

use std::io::Write;
use std::path::Path;

use gdal::spatial_ref::CoordTransform;

use crate::cadastral::{transform_pts, write_parcels};
use crate::city::{Block, Grid};
use crate::gdalio;
use crate::rng::Rng;
use crate::terrain::write_dem;
use crate::{Error, Progress, Result};

pub struct BadCounts {
    pub truncated_records_written: usize,
    pub no_prj: usize,
    pub big5_no_cpg: usize,
}

pub fn write_all(dir: &Path, grid: &Grid, blocks: &[Block]) -> Result<BadCounts> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.to_path_buf(), e))?;
    let quiet = &mut Progress::quiet();
    let few = |n: usize| blocks.iter().skip(n).take(3).cloned();

    // A valid cp950 parcels file whose .shp is cut in the middle of a record
    // (the .shx and .dbf still promise every record).
    let trunc = dir.join("truncated.shp");
    let truncated_records_written = write_parcels(&trunc, grid, few(0), 30, "ENCODING=CP950", quiet)?;
    truncate_mid_record(&trunc, truncated_records_written / 2)?;

    // No .prj: the importer must refuse unless given an explicit CRS.
    let no_prj = dir.join("no_prj.shp");
    let n_no_prj = write_parcels(&no_prj, grid, few(3), 12, "ENCODING=CP950", quiet)?;
    remove(&no_prj.with_extension("prj"))?;

    // Big5 bytes and nothing saying so: no .cpg, DBF language driver ID zeroed.
    let big5 = dir.join("big5_no_cpg.shp");
    let n_big5 = write_parcels(&big5, grid, few(6), 40, "ENCODING=CP950", quiet)?;
    remove(&big5.with_extension("cpg"))?;
    zero_ldid(&big5.with_extension("dbf"))?;

    write_file(&dir.join("empty.geojson"), b"")?;
    write_file(&dir.join("no_features.geojson"), b"{\"type\":\"FeatureCollection\",\"name\":\"no_features\",\"features\":[]}\n")?;

    let ct = CoordTransform::new(&gdalio::srs(3826)?, &gdalio::srs(4326)?)?;
    write_invalid_polygons(&dir.join("invalid_polygons.geojson"), &ct)?;
    write_absurd(&dir.join("absurd_values.geojson"), &dir.join("absurd_pipes.geojson"), &ct)?;

    // A DEM whose every cell is nodata.
    write_dem(&dir.join("nodata_dem.tif"), (304_000.0, 2_769_000.0), 20.0, (16, 16), |_, _| true, true)?;

    // Random bytes with a .shp extension.
    let mut junk = vec![0u8; 1024];
    Rng::derive(grid.seed, &[404]).fill_bytes(&mut junk);
    write_file(&dir.join("not_a_shapefile.shp"), &junk)?;

    Ok(BadCounts { truncated_records_written, no_prj: n_no_prj, big5_no_cpg: n_big5 })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::Io(path.to_path_buf(), e))
}

fn remove(path: &Path) -> Result<()> {
    std::fs::remove_file(path).map_err(|e| Error::Io(path.to_path_buf(), e))
}

/// Cut the .shp halfway through record `rec` (0-based), using the .shx index
/// (100-byte header, then 8 bytes per record: big-endian offset and length in
/// 16-bit words).
fn truncate_mid_record(shp: &Path, rec: usize) -> Result<()> {
    let shx_path = shp.with_extension("shx");
    let shx = std::fs::read(&shx_path).map_err(|e| Error::Io(shx_path.clone(), e))?;
    let at = 100 + rec * 8;
    let word = |o: usize| u32::from_be_bytes(shx[o..o + 4].try_into().unwrap()) as u64 * 2;
    let (offset, len) = (word(at), word(at + 4));
    let cut = offset + 8 + len / 2;
    let f = std::fs::OpenOptions::new().write(true).open(shp).map_err(|e| Error::Io(shp.to_path_buf(), e))?;
    f.set_len(cut).map_err(|e| Error::Io(shp.to_path_buf(), e))
}

/// Byte 29 of a DBF header is the language driver ID (code page mark).
fn zero_ldid(dbf: &Path) -> Result<()> {
    let mut bytes = std::fs::read(dbf).map_err(|e| Error::Io(dbf.to_path_buf(), e))?;
    bytes[29] = 0;
    write_file(dbf, &bytes)
}

/// Format an EPSG:3826 ring as GeoJSON lon/lat coordinates (7 decimals ≈ 1 cm).
fn coords(ct: &CoordTransform, pts: &[(f64, f64)]) -> Result<String> {
    let ll = transform_pts(ct, pts)?;
    Ok(ll.iter().map(|(x, y)| format!("[{x:.7},{y:.7}]")).collect::<Vec<_>>().join(","))
}

fn square(x: f64, y: f64, d: f64) -> Vec<(f64, f64)> {
    vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)]
}

/// Hand-written GeoJSON: GDAL's writer would not let us emit some of these.
fn write_invalid_polygons(path: &Path, ct: &CoordTransform) -> Result<()> {
    // South of 大安森林公園, 30 m apart.
    let (x0, y0) = (304_300.0, 2_768_900.0);
    let mut feats = Vec::new();
    let poly = |ring: String| format!("{{\"type\":\"Polygon\",\"coordinates\":[[{ring}]]}}");
    for (k, floors) in [3, 5, 12].into_iter().enumerate() {
        let ring = coords(ct, &square(x0 + 30.0 * k as f64, y0, 20.0))?;
        feats.push((k + 1, floors.to_string(), "valid", poly(ring)));
    }
    let x = x0 + 90.0;
    // Bow-tie: edges cross at the centre; make_valid gives two triangles.
    let bow = coords(ct, &[(x, y0), (x + 20.0, y0 + 20.0), (x + 20.0, y0), (x, y0 + 20.0), (x, y0)])?;
    feats.push((4, "4".into(), "self_intersecting_bowtie", poly(bow)));
    // Exterior ring not closed: last point differs from the first.
    let x = x0 + 120.0;
    let open = coords(ct, &[(x, y0), (x + 20.0, y0), (x + 20.0, y0 + 20.0), (x, y0 + 20.0)])?;
    feats.push((5, "6".into(), "unclosed_ring", poly(open)));
    // Every vertex on one line: zero area, not repairable into an area.
    let x = x0 + 150.0;
    let flat = coords(ct, &[(x, y0), (x + 10.0, y0 + 5.0), (x + 20.0, y0 + 10.0), (x, y0)])?;
    feats.push((6, "2".into(), "collapsed_to_line", poly(flat)));
    feats.push((7, "3".into(), "null_geometry", "null".into()));

    let body: Vec<String> = feats
        .into_iter()
        .map(|(id, floors, case, geom)| format!("{{\"type\":\"Feature\",\"properties\":{{\"id\":{id},\"floors\":{floors},\"case\":\"{case}\"}},\"geometry\":{geom}}}"))
        .collect();
    let mut f = std::fs::File::create(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
    let text = format!("{{\"type\":\"FeatureCollection\",\"name\":\"invalid_polygons\",\"features\":[\n{}\n]}}\n", body.join(",\n"));
    f.write_all(text.as_bytes()).map_err(|e| Error::Io(path.to_path_buf(), e))
}

fn write_absurd(buildings: &Path, pipes: &Path, ct: &CoordTransform) -> Result<()> {
    let (x0, y0) = (305_000.0, 2_768_900.0);
    let mut feats = Vec::new();
    for (k, h) in [-5.0, 0.0, 12.0, 2000.0].into_iter().enumerate() {
        let ring = coords(ct, &square(x0 + 30.0 * k as f64, y0, 20.0))?;
        feats.push(format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"id\":{},\"height_m\":{h:.1},\"floors\":{}}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[[{ring}]]}}}}",
            k + 1,
            (h / 3.0_f64).round() as i64,
        ));
    }
    write_fc(buildings, "absurd_values", &feats)?;

    let mut feats = Vec::new();
    for (k, depth) in [-3.0, 250.0, 1.2].into_iter().enumerate() {
        let y = y0 + 40.0 + 10.0 * k as f64;
        let line = coords(ct, &[(x0, y), (x0 + 80.0, y), (x0 + 160.0, y)])?;
        feats.push(format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"id\":{},\"type\":\"water\",\"diameter_mm\":300,\"depth_m\":{depth:.1},\"material\":\"ductile iron\",\"install_year\":1988,\"owner\":\"Taipei Water Department\"}},\"geometry\":{{\"type\":\"LineString\",\"coordinates\":[{line}]}}}}",
            k + 1
        ));
    }
    write_fc(pipes, "absurd_pipes", &feats)
}

fn write_fc(path: &Path, name: &str, feats: &[String]) -> Result<()> {
    let text = format!("{{\"type\":\"FeatureCollection\",\"name\":\"{name}\",\"features\":[\n{}\n]}}\n", feats.join(",\n"));
    write_file(path, text.as_bytes())
}
