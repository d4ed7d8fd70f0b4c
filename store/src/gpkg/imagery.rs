//! Imagery (orthophotos, post-disaster aerial or satellite images): RGBA tiles on the
//! GoogleMapsCompatible grid in a GeoPackage tile table per layer — PNG where a tile has
//! transparent pixels, JPEG where it is opaque, as GDAL writes GeoPackage tiles — so
//! `gdalinfo store.gpkg` and QGIS open each image as a raster layer too.

use super::pyramid::PyramidWriter;
use super::store::GpkgStore;
use crate::model::{validate_layer_name, Envelope};
use crate::StoreError;

pub const KIND: &str = crate::raster::IMAGERY;

/// Writes one imagery layer, replacing a previous image of the same name at commit.
pub struct GpkgImageryImport {
    pyramid: PyramidWriter,
}

impl GpkgStore {
    /// Starts writing imagery layer `name` over `extent_m` (Web Mercator metres) for
    /// zooms 0..=max_zoom. A feature layer or the terrain of that name is not replaced.
    pub fn begin_imagery_import(&self, name: &str, extent_m: Envelope, max_zoom: u8) -> Result<GpkgImageryImport, StoreError> {
        validate_layer_name(name)?;
        if let Some(existing) = self.layer(name).filter(|l| l.info.kind != KIND) {
            return Err(StoreError::KindMismatch { layer: name.into(), existing: existing.info.kind.clone(), requested: "imagery".into() });
        }
        let pyramid = self.begin_pyramid(name, "tiles", "Formosa imagery (RGBA tiles)", extent_m, max_zoom)?;
        Ok(GpkgImageryImport { pyramid })
    }

    /// The encoded (PNG or JPEG) tile of an imagery layer at XYZ (z, x, y), if any.
    pub fn imagery_tile(&self, name: &str, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.pyramid_tile(name, z, x, y)
    }
}

impl GpkgImageryImport {
    pub fn put_tile(&mut self, z: u8, x: u32, y: u32, encoded: &[u8]) -> Result<(), StoreError> {
        self.pyramid.put(z, x, y, encoded).map(|_| ())
    }

    /// A tile written earlier in this import.
    pub fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.pyramid.get(z, x, y)
    }

    pub fn tile_count(&self) -> u64 {
        self.pyramid.tile_count()
    }

    pub fn commit(self, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        self.pyramid.commit(KIND, source, source_crs, details)
    }
}
