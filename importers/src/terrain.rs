//! DEM import: a GeoTIFF (or any GDAL raster) in any CRS becomes the store's elevation
//! pyramid, 256×256 float tiles on the Web Mercator grid, resampled once here so the
//! terrain encoders only ever read tiles.
//!
//! Heights are kept as the source gives them (orthometric, TWVD2001 for Taiwan's DEMs);
//! the geoid offset to ellipsoidal heights is applied by the 3D encoders.

use crate::progress;
use crate::raster;
use crate::report::{ImportReport, Units};
use crate::source::init_gdal;
use crate::{crs, ImportError};
use formosa_store::mercator::tiles_covering_m;
use formosa_store::raster::{NO_DATA, TILE_SIZE};
use formosa_store::Imports;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct TerrainOptions {
    pub path: PathBuf,
    pub srs: Option<String>,
    /// Deepest pyramid level; by default the level whose pixels are just finer than the DEM's.
    pub max_zoom: Option<u8>,
    pub progress: bool,
}

/// The DEM in memory, with the affine transform from source coordinates to pixels.
struct Dem {
    width: usize,
    height: usize,
    values: Vec<f64>,
    nodata: Option<f64>,
    /// Inverse geotransform: source x/y → fractional column/row (of cell corners).
    inv: [f64; 6],
}

impl Dem {
    fn valid(&self, v: f64) -> bool {
        v.is_finite() && self.nodata.is_none_or(|nd| v != nd)
    }

    /// Bilinear sample between cell centres; near nodata, weighted over the valid corners only.
    fn sample(&self, x: f64, y: f64) -> Option<f64> {
        let col = self.inv[0] + x * self.inv[1] + y * self.inv[2] - 0.5;
        let row = self.inv[3] + x * self.inv[4] + y * self.inv[5] - 0.5;
        if !(col > -0.5 && row > -0.5 && col < self.width as f64 - 0.5 && row < self.height as f64 - 0.5) {
            return None;
        }
        let c0 = (col.floor().max(0.0) as usize).min(self.width - 1);
        let r0 = (row.floor().max(0.0) as usize).min(self.height - 1);
        let c1 = (c0 + 1).min(self.width - 1);
        let r1 = (r0 + 1).min(self.height - 1);
        let fx = (col - c0 as f64).clamp(0.0, 1.0);
        let fy = (row - r0 as f64).clamp(0.0, 1.0);
        let at = |c: usize, r: usize| self.values[r * self.width + c];
        let corners = [(at(c0, r0), (1.0 - fx) * (1.0 - fy)), (at(c1, r0), fx * (1.0 - fy)), (at(c0, r1), (1.0 - fx) * fy), (at(c1, r1), fx * fy)];
        let (sum, weight) = corners.iter().filter(|(v, _)| self.valid(*v)).fold((0.0, 0.0), |(s, tw), (v, w)| (s + v * w, tw + w));
        (weight > 1e-9).then(|| sum / weight)
    }
}

pub fn import_terrain(store: &dyn Imports, opts: &TerrainOptions) -> Result<ImportReport, ImportError> {
    init_gdal();
    let started = Instant::now();
    let path = &opts.path;
    let source = raster::open(path, opts.srs.as_deref(), "terrain", "a DEM raster (GeoTIFF or any GDAL raster)")?;
    let (srs_label, inv) = (source.srs_label.clone(), source.inv);
    let ds = &source.ds;
    check_dem_bands(&source, path)?;
    let band = ds.rasterband(1)?;
    let (width, height) = band.size();
    let nodata = band.no_data_value();
    let buf = band
        .read_as::<f64>((0, 0), (width, height), (width, height), None)
        .map_err(|e| ImportError::Unreadable { path: path.clone(), reason: format!("cannot read the DEM: {e}") })?;
    let dem = Dem { width, height, values: buf.data().to_vec(), nodata, inv };
    let valid_cells = dem.values.iter().filter(|v| dem.valid(**v)).count();
    if valid_cells == 0 {
        return Err(ImportError::AllNoData { path: path.clone() });
    }
    let lo = dem.values.iter().filter(|v| dem.valid(**v)).cloned().fold(f64::INFINITY, f64::min);
    let hi = dem.values.iter().filter(|v| dem.valid(**v)).cloned().fold(f64::NEG_INFINITY, f64::max);
    if lo < -500.0 || hi > 9000.0 {
        return Err(ImportError::Unreadable { path: path.clone(), reason: format!("heights range {lo:.1} – {hi:.1} m, which is not terrain (wrong nodata value or units?)") });
    }

    let from_ll = crs::from_wgs84(&source.srs)?;
    let (extent_m, mid_lat) = source.footprint_m()?;
    let cell_m = source.cell_m(mid_lat);
    let max_zoom = opts.max_zoom.unwrap_or_else(|| raster::matching_zoom(cell_m, mid_lat, 16));
    tracing::info!("DEM {width}×{height} cells of {cell_m:.1} m ({srs_label}), heights {lo:.1}–{hi:.1} m → pyramid z0–z{max_zoom}");

    let mut import = store.begin_terrain_import(extent_m, max_zoom)?;
    let (c0, r0, c1, r1) = tiles_covering_m(&extent_m, max_zoom);
    let total = (c1 - c0 + 1) as u64 * (r1 - r0 + 1) as u64;
    let pb = progress::bar(Some(total), "tiles", opts.progress);
    pb.set_message(format!("DEM → z{max_zoom} tiles"));
    let mut level: HashMap<(u32, u32), Vec<f32>> = HashMap::new();
    let n = TILE_SIZE * TILE_SIZE;
    for ty in r0..=r1 {
        for tx in c0..=c1 {
            let (xs, ys) = raster::tile_pixel_centres(&from_ll, max_zoom, tx, ty)?;
            let heights: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| dem.sample(*x, *y).map_or(NO_DATA, |h| h as f32)).collect();
            if import.put_tile(max_zoom, tx, ty, &heights)? {
                level.insert((tx, ty), heights);
            }
            pb.inc(1);
            import.progress(pb.position(), Some(total));
        }
    }
    // Coarser levels: each pixel the mean of the valid pixels of the 2×2 below it.
    for z in (0..max_zoom).rev() {
        let mut parents: HashMap<(u32, u32), Vec<f32>> = HashMap::new();
        for (&(cx, cy), child) in &level {
            let parent = parents.entry((cx / 2, cy / 2)).or_insert_with(|| vec![NO_DATA; n]);
            let (ox, oy) = ((cx % 2) as usize * TILE_SIZE / 2, (cy % 2) as usize * TILE_SIZE / 2);
            for row in 0..TILE_SIZE / 2 {
                for col in 0..TILE_SIZE / 2 {
                    let vals = [
                        child[(2 * row) * TILE_SIZE + 2 * col],
                        child[(2 * row) * TILE_SIZE + 2 * col + 1],
                        child[(2 * row + 1) * TILE_SIZE + 2 * col],
                        child[(2 * row + 1) * TILE_SIZE + 2 * col + 1],
                    ];
                    let valid: Vec<f32> = vals.into_iter().filter(|v| *v != NO_DATA).collect();
                    if !valid.is_empty() {
                        parent[(oy + row) * TILE_SIZE + ox + col] = valid.iter().sum::<f32>() / valid.len() as f32;
                    }
                }
            }
        }
        for (&(x, y), heights) in &parents {
            import.put_tile(z, x, y, heights)?;
        }
        level = parents;
    }
    pb.finish_and_clear();
    let tiles = import.tile_count();
    let details = serde_json::json!({
        "width": width, "height": height, "cell_m": cell_m,
        "min_height_m": lo, "max_height_m": hi,
        "vertical_datum": "as source (orthometric, TWVD2001 for Taiwanese DEMs)",
    });
    import.commit(&path.display().to_string(), &srs_label, details)?;
    Ok(ImportReport {
        layer: formosa_store::raster::TERRAIN.into(),
        kind: "terrain".into(),
        source: path.display().to_string(),
        source_crs: srs_label,
        read: (width * height) as u64,
        units: Units::DemCells,
        imported: tiles,
        max_zoom: Some(max_zoom),
        elapsed: started.elapsed(),
        ..Default::default()
    })
}

/// A DEM is one band of heights in a real or integer type: refuse an image (bands of
/// 8-bit colour) and complex bands (radar), saying which importer or conversion fits.
fn check_dem_bands(source: &raster::RasterSource, path: &std::path::Path) -> Result<(), ImportError> {
    let types = source.band_types()?;
    let bands = types.len();
    let expected = "one band of heights (Int16, UInt16, Int32, UInt32, Float32 or Float64)";
    let refuse = |band: usize, found: String, hint: String| ImportError::BandType { path: path.to_path_buf(), band, found, command: "terrain", expected, hint };
    if bands > 1 && types.iter().all(|t| t.eight_bit) {
        return Err(refuse(1, format!("8-bit, one of {bands} bands of colour: this is an image, not a DEM"), "; import it with `formosa import imagery`".into()));
    }
    if let Some((i, t)) = types.iter().enumerate().find(|(_, t)| t.complex) {
        return Err(refuse(i + 1, format!("{} (complex numbers)", t.name), format!("; keep the heights only, e.g. gdal_translate -ot Float32 -b 1 {} dem.tif", path.display())));
    }
    if bands > 1 {
        return Err(refuse(2, format!("one of {bands} bands"), format!("; keep the heights band only, e.g. gdal_translate -b 1 {} dem.tif", path.display())));
    }
    if types[0].eight_bit {
        return Err(refuse(1, format!("{} (8-bit: heights of 0–255 m at most; an image?)", types[0].name), "; an image goes to `formosa import imagery`".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_between_centres_and_nodata_fallback() {
        let dem = Dem { width: 2, height: 2, values: vec![0.0, 10.0, 20.0, -9999.0], nodata: Some(-9999.0), inv: raster::invert([0.0, 1.0, 0.0, 2.0, 0.0, -1.0]).unwrap() };
        // Centre of the top-left cell.
        assert_eq!(dem.sample(0.5, 1.5), Some(0.0));
        // Between the two top cells.
        assert_eq!(dem.sample(1.0, 1.5), Some(5.0));
        // Next to the nodata cell: weighted over the three valid corners only.
        let v = dem.sample(1.3, 0.6).unwrap();
        assert!((v - (0.02 * 0.0 + 0.08 * 10.0 + 0.18 * 20.0) / 0.28).abs() < 1e-9, "{v}");
        // At the centre of the nodata cell there is nothing to interpolate.
        assert_eq!(dem.sample(1.5, 0.5), None);
        assert_eq!(dem.sample(5.0, 5.0), None);
    }
}
