//! Synthetic but believable relief for eastern Taipei, and the DEM GeoTIFF writer.
//!
//! The Taipei basin floor is flat and low (about 5–12 m, rising gently to the
//! south-east); the 四獸山 group (象山, 獅山, 豹山, 虎山), 九五峰 and 南港山 rise
//! abruptly to 150–380 m on the east side, with lower hills (福州山, 蟾蜍山) to
//! the south. We model that as a gentle plane + Gaussian hills + small ripples,
//! so every dataset (DEM, 3D pipelines, blocks skipped on hillsides) agrees on
//! one smooth, deterministic surface.

use std::path::Path;

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::{DriverManager, GeoTransform};

use crate::Result;

/// (x, y, peak height above the floor in m, sigma in m): approximate real summit
/// positions in TWD97 TM2, heights tuned so summits land near the real ones.
const HILLS: &[(f64, f64, f64, f64)] = &[
    (308_180.0, 2_768_914.0, 150.0, 230.0), // 象山 (183 m)
    (308_800.0, 2_769_420.0, 120.0, 220.0), // 獅山 / 豹山
    (309_080.0, 2_769_950.0, 110.0, 240.0), // 虎山 (141 m)
    (308_850.0, 2_768_700.0, 160.0, 260.0), // 拇指山 (~240 m)
    (309_500.0, 2_769_150.0, 260.0, 420.0), // 九五峰 (375 m)
    (310_500.0, 2_768_700.0, 300.0, 700.0), // 南港山 ridge, mostly east of the DEM
    (309_300.0, 2_766_600.0, 170.0, 800.0), // hills towards 木柵 / 軍功山
    (306_350.0, 2_766_500.0, 90.0, 380.0),  // 福州山 / 富陽
    (303_700.0, 2_765_900.0, 85.0, 300.0),  // 蟾蜍山
];

/// Ground height (orthometric, TWVD2001, metres) at an EPSG:3826 position.
///
/// Defined everywhere (the large benchmark tiles blocks tens of km away); far from
/// Taipei it settles to a gently undulating 5–20 m plain.
pub fn ground_height(x: f64, y: f64) -> f64 {
    // Basin floor: lowest to the north-west (towards 淡水河), ~12 m to the south-east.
    // tanh keeps the plane bounded when the large generator wanders far away.
    let dx = (x - 306_000.0) / 4_000.0;
    let dy = (2_769_000.0 - y) / 4_000.0;
    let floor = 8.5 + 2.2 * dx.tanh() + 1.3 * dy.tanh();

    let hills: f64 = HILLS
        .iter()
        .map(|&(hx, hy, h, s)| {
            let d2 = (x - hx).powi(2) + (y - hy).powi(2);
            h * (-d2 / (2.0 * s * s)).exp()
        })
        .sum();

    // Small deterministic ripples (±1 m) so the floor is not perfectly flat;
    // wavelengths of a few hundred metres, like old levees and road fills.
    let ripple = 0.6 * (x / 137.0).sin() * (y / 173.0).cos() + 0.35 * ((x + y) / 61.0).sin();

    floor + hills + ripple
}

pub const DEM_NODATA: f64 = -9999.0;

/// Write a Float32 GeoTIFF of `ground_height` on an EPSG:3826 grid.
/// `hole(col, row)` returns true for cells that must be nodata.
pub fn write_dem(path: &Path, origin: (f64, f64), cell: f64, size: (usize, usize), hole: impl Fn(usize, usize) -> bool, all_nodata: bool) -> Result<()> {
    crate::gdalio::remove_dataset_files(path)?;
    let (w, h) = size;
    let driver = DriverManager::get_driver_by_name("GTiff")?;
    // PREDICTOR=3 (floating-point predictor) is what agencies use for Float32 DEMs
    // and what importers must be able to decode.
    let opts = RasterCreationOptions::from_iter(["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "PREDICTOR=3"]);
    let mut ds = driver.create_with_band_type_with_options::<f32, _>(path, w, h, 1, &opts)?;
    let gt: GeoTransform = [origin.0, cell, 0.0, origin.1, 0.0, -cell];
    ds.set_geo_transform(&gt)?;
    ds.set_spatial_ref(&SpatialRef::from_epsg(3826)?)?;

    let mut data = vec![0f32; w * h];
    for row in 0..h {
        // Cell centres: GDAL's default AREA_OR_POINT=Area.
        let y = origin.1 - (row as f64 + 0.5) * cell;
        for col in 0..w {
            let x = origin.0 + (col as f64 + 0.5) * cell;
            data[row * w + col] = if all_nodata || hole(col, row) {
                DEM_NODATA as f32
            } else {
                // Round to cm: real DEMs are delivered at that resolution and it
                // makes the file compress like one.
                ((ground_height(x, y) * 100.0).round() / 100.0) as f32
            };
        }
    }
    let mut band = ds.rasterband(1)?;
    band.set_no_data_value(Some(DEM_NODATA))?;
    let mut buf = Buffer::new((w, h), data);
    band.write((0, 0), (w, h), &mut buf)?;
    ds.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basin_is_low_and_hills_are_high() {
        // 大安森林公園, 台北101 and 國父紀念館 sit on the flat basin floor.
        for (x, y) in [(304_200.0, 2_769_300.0), (306_965.0, 2_769_660.0), (305_900.0, 2_770_100.0)] {
            let z = ground_height(x, y);
            assert!((4.0..=14.0).contains(&z), "{x},{y}: {z}");
        }
        // 象山 and 九五峰 are real hills.
        assert!(ground_height(308_180.0, 2_768_914.0) > 150.0);
        let peak = ground_height(309_500.0, 2_769_150.0);
        assert!((300.0..=400.0).contains(&peak), "{peak}");
    }
}
