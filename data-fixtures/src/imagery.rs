//! A synthetic post-typhoon orthophoto: 8-bit RGB GeoTIFF in TWD97 TM2 (EPSG:3826), JPEG
//! compressed as agencies deliver aerial images, over the fixture city around 信義區.
//!
//! Ground: a green-grey texture shaded by the fixture relief. Two features tests can find
//! after reprojection: a flooded area (a blue ellipse, centred on `FLOOD_CENTRE`) and a
//! red tarpaulin (a 20 m square centred on `MARKER_CENTRE`). A frame round the image is
//! outside the mosaic: masked out by the TIFF's internal mask (GDAL's way for JPEG
//! compressed images, whose lossy zeros cannot be a nodata value), it must come out
//! transparent.

use std::path::Path;

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::{DriverManager, GeoTransform};

use crate::terrain::ground_height;
use crate::Result;

/// Image origin (north-west corner) and size: 800 × 600 cells of 1 m.
pub const ORIGIN: (f64, f64) = (306_313.0, 2_769_961.0);
pub const CELL_M: f64 = 1.0;
pub const SIZE: (usize, usize) = (800, 600);
/// Centre of the flooded area (EPSG:3826) and its semi-axes in metres.
pub const FLOOD_CENTRE: (f64, f64) = (306_713.0, 2_769_661.0);
pub const FLOOD_AXES: (f64, f64) = (150.0, 90.0);
/// Centre of the red tarpaulin (EPSG:3826); 20 m a side.
pub const MARKER_CENTRE: (f64, f64) = (306_463.0, 2_769_861.0);
/// Width of the masked frame, in cells.
pub const FRAME: usize = 10;

pub fn write_orthophoto(path: &Path) -> Result<()> {
    crate::gdalio::remove_dataset_files(path)?;
    let (w, h) = SIZE;
    let driver = DriverManager::get_driver_by_name("GTiff")?;
    let opts = RasterCreationOptions::from_iter(["TILED=YES", "COMPRESS=JPEG", "JPEG_QUALITY=85", "PHOTOMETRIC=YCBCR"]);
    let mut ds = driver.create_with_band_type_with_options::<u8, _>(path, w, h, 3, &opts)?;
    let gt: GeoTransform = [ORIGIN.0, CELL_M, 0.0, ORIGIN.1, 0.0, -CELL_M];
    ds.set_geo_transform(&gt)?;
    ds.set_spatial_ref(&SpatialRef::from_epsg(3826)?)?;
    let mut bands = [vec![0u8; w * h], vec![0u8; w * h], vec![0u8; w * h]];
    let mut mask = vec![255u8; w * h];
    for row in 0..h {
        let y = ORIGIN.1 - (row as f64 + 0.5) * CELL_M;
        for col in 0..w {
            let x = ORIGIN.0 + (col as f64 + 0.5) * CELL_M;
            let rgb = if col < FRAME || row < FRAME || col >= w - FRAME || row >= h - FRAME {
                mask[row * w + col] = 0;
                [0, 0, 0]
            } else if ((x - FLOOD_CENTRE.0) / FLOOD_AXES.0).powi(2) + ((y - FLOOD_CENTRE.1) / FLOOD_AXES.1).powi(2) <= 1.0 {
                [40, 90, 190]
            } else if (x - MARKER_CENTRE.0).abs() <= 10.0 && (y - MARKER_CENTRE.1).abs() <= 10.0 {
                [210, 30, 30]
            } else {
                // Vegetation and roofs: a texture of a few metres, lit by the slope.
                let t = ((x / 7.0).sin() * (y / 5.0).cos() + ((x + y) / 13.0).sin()) * 12.0;
                let slope = (ground_height(x + 1.0, y) - ground_height(x - 1.0, y)) * 20.0;
                let v = |base: f64| (base + t - slope).clamp(20.0, 235.0) as u8;
                [v(120.0), v(135.0), v(105.0)]
            };
            for (band, value) in bands.iter_mut().zip(rgb) {
                band[row * w + col] = value;
            }
        }
    }
    for (i, data) in bands.into_iter().enumerate() {
        ds.rasterband(i + 1)?.write((0, 0), (w, h), &mut Buffer::new((w, h), data))?;
    }
    // Inside the TIFF, not a .msk beside it (GDAL 3.6 writes a side file by default).
    gdal::config::set_config_option("GDAL_TIFF_INTERNAL_MASK", "YES")?;
    let mut first = ds.rasterband(1)?;
    first.create_mask_band(true)?;
    first.open_mask_band()?.write((0, 0), (w, h), &mut Buffer::new((w, h), mask))?;
    ds.close()?;
    Ok(())
}
