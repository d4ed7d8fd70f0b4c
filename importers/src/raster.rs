//! What the raster importers (DEM, imagery) share: opening a GDAL raster with a clear
//! reason when it is not one, its CRS and georeferencing, its footprint on the Web
//! Mercator grid, the pyramid depth matching its cell size, and where each pixel of a
//! pyramid tile falls in the source.

use crate::crs;
use crate::ImportError;
use formosa_store::mercator::{self, tile_bounds_m};
use formosa_store::raster::TILE_SIZE;
use formosa_store::Envelope;
use gdal::spatial_ref::{CoordTransform, SpatialRef};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use std::path::Path;

pub struct RasterSource {
    pub ds: Dataset,
    pub srs: SpatialRef,
    pub srs_label: String,
    pub width: usize,
    pub height: usize,
    gt: [f64; 6],
    /// Inverse geotransform: source x/y → fractional column/row (of cell corners).
    pub inv: [f64; 6],
}

/// Opens `path` as a raster for `formosa import {command}` (which needs `expected`).
pub fn open(path: &Path, srs: Option<&str>, command: &str, expected: &str) -> Result<RasterSource, ImportError> {
    crate::source::refuse_stores(path)?;
    let ds = Dataset::open_ex(path, DatasetOptions { open_flags: GdalOpenFlags::GDAL_OF_RASTER, ..Default::default() }).map_err(|_| {
        if Dataset::open_ex(path, DatasetOptions { open_flags: GdalOpenFlags::GDAL_OF_VECTOR, ..Default::default() }).is_ok() {
            ImportError::WrongKind { path: path.to_path_buf(), found: "vector data".into(), expected: expected.into(), command: command.into() }
        } else {
            ImportError::Unreadable { path: path.to_path_buf(), reason: "not a raster GDAL can read".into() }
        }
    })?;
    let srs = match (srs, ds.spatial_ref()) {
        (Some(t), _) => crs::parse_srs(t)?,
        (None, Ok(s)) => s,
        (None, Err(_)) => return Err(ImportError::NoCrs { path: path.to_path_buf() }),
    };
    let gt = ds.geo_transform().map_err(|_| ImportError::Unreadable { path: path.to_path_buf(), reason: "the raster has no georeferencing (geotransform)".into() })?;
    let inv = invert(gt).ok_or_else(|| ImportError::Unreadable { path: path.to_path_buf(), reason: "degenerate geotransform".into() })?;
    let (width, height) = ds.raster_size();
    Ok(RasterSource { srs_label: crs::label(&srs), ds, srs, width, height, gt, inv })
}

/// A band's data type as GDAL names it (Byte, Int16, Float32, CFloat32 …); the gdal
/// crate's `GdalDataType` has no complex types, so this reads GDAL's own.
#[derive(Debug, Clone, PartialEq)]
pub struct BandType {
    pub name: String,
    pub complex: bool,
    /// Byte (and Int8): 8 bits a sample.
    pub eight_bit: bool,
}

impl RasterSource {
    /// The data type of every band, band 1 first.
    pub fn band_types(&self) -> Result<Vec<BandType>, ImportError> {
        (1..=self.ds.raster_count())
            .map(|b| {
                let band = self.ds.rasterband(b)?;
                let ty = unsafe { gdal_sys::GDALGetRasterDataType(band.c_rasterband()) };
                let name = unsafe { std::ffi::CStr::from_ptr(gdal_sys::GDALGetDataTypeName(ty)) }.to_string_lossy().into_owned();
                let complex = unsafe { gdal_sys::GDALDataTypeIsComplex(ty) } != 0;
                let eight_bit = unsafe { gdal_sys::GDALGetDataTypeSizeBits(ty) } == 8;
                Ok(BandType { name, complex, eight_bit })
            })
            .collect()
    }

    /// The raster's footprint in Web Mercator metres (from points along its edges), and
    /// the latitude of its middle.
    pub fn footprint_m(&self) -> Result<(Envelope, f64), ImportError> {
        let to_ll = crs::to_wgs84(&self.srs)?;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for i in 0..=16 {
            let f = i as f64 / 16.0;
            for (c, r) in [(f, 0.0), (f, 1.0), (0.0, f), (1.0, f)] {
                let (c, r) = (c * self.width as f64, r * self.height as f64);
                xs.push(self.gt[0] + c * self.gt[1] + r * self.gt[2]);
                ys.push(self.gt[3] + c * self.gt[4] + r * self.gt[5]);
            }
        }
        let mut zs = vec![0.0; xs.len()];
        crs::transform(&to_ll, &mut xs, &mut ys, &mut zs).map_err(|e| ImportError::Transform { from: self.srs_label.clone(), reason: e })?;
        let mut extent: Option<Envelope> = None;
        for (lon, lat) in xs.iter().zip(&ys) {
            let (mx, my) = mercator::to_mercator(*lon, *lat);
            extent = Some(match extent {
                None => Envelope { min_x: mx, min_y: my, max_x: mx, max_y: my },
                Some(e) => e.expand(mx, my),
            });
        }
        let extent = extent.expect("edge points");
        let (_, mid_lat) = mercator::to_lonlat((extent.min_x + extent.max_x) / 2.0, (extent.min_y + extent.max_y) / 2.0);
        Ok((extent, mid_lat))
    }

    /// Ground size of a cell, in metres.
    pub fn cell_m(&self, mid_lat: f64) -> f64 {
        let size = (self.gt[1].powi(2) + self.gt[4].powi(2)).sqrt();
        if self.srs.is_geographic() {
            size * 111_320.0 * mid_lat.to_radians().cos()
        } else {
            size * self.srs.linear_units()
        }
    }

    /// Fractional column and row (cell corners at integers) of source coordinates.
    pub fn pixel_of(&self, x: f64, y: f64) -> (f64, f64) {
        (self.inv[0] + x * self.inv[1] + y * self.inv[2], self.inv[3] + x * self.inv[4] + y * self.inv[5])
    }
}

/// The shallowest pyramid level whose pixels are at least as fine as `cell_m` (at most 19).
pub fn matching_zoom(cell_m: f64, mid_lat: f64, max: u8) -> u8 {
    (0..=max).find(|z| mercator::tile_size_m(*z) / TILE_SIZE as f64 * mid_lat.to_radians().cos() <= cell_m).unwrap_or(max)
}

/// Source coordinates of the centres of the pixels of tile z/x/y, row by row from the
/// north-west.
pub fn tile_pixel_centres(from_ll: &CoordTransform, z: u8, x: u32, y: u32) -> Result<(Vec<f64>, Vec<f64>), ImportError> {
    let b = tile_bounds_m(z, x, y);
    let px = (b.max_x - b.min_x) / TILE_SIZE as f64;
    let n = TILE_SIZE * TILE_SIZE;
    let (mut xs, mut ys, mut zs) = (Vec::with_capacity(n), Vec::with_capacity(n), vec![0.0; n]);
    for row in 0..TILE_SIZE {
        for col in 0..TILE_SIZE {
            let (lon, lat) = mercator::to_lonlat(b.min_x + (col as f64 + 0.5) * px, b.max_y - (row as f64 + 0.5) * px);
            xs.push(lon);
            ys.push(lat);
        }
    }
    crs::transform(from_ll, &mut xs, &mut ys, &mut zs).map_err(|e| ImportError::Transform { from: "EPSG:4326".into(), reason: e })?;
    Ok((xs, ys))
}

pub fn invert(gt: [f64; 6]) -> Option<[f64; 6]> {
    let det = gt[1] * gt[5] - gt[2] * gt[4];
    if det.abs() < 1e-30 {
        return None;
    }
    let inv_det = 1.0 / det;
    let a = gt[5] * inv_det;
    let b = -gt[2] * inv_det;
    let d = -gt[4] * inv_det;
    let e = gt[1] * inv_det;
    Some([-gt[0] * a - gt[3] * b, a, b, -gt[0] * d - gt[3] * e, d, e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geotransform_inverts() {
        let gt = [302000.0, 20.0, 0.0, 2773000.0, 0.0, -20.0];
        let inv = invert(gt).unwrap();
        let (x, y) = (302000.0 + 20.0 * 10.0, 2773000.0 - 20.0 * 5.0);
        assert!((inv[0] + x * inv[1] + y * inv[2] - 10.0).abs() < 1e-9);
        assert!((inv[3] + x * inv[4] + y * inv[5] - 5.0).abs() < 1e-9);
    }
}
