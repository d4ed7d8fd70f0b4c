//! The elevation pyramid: the DEM resampled once into 256×256 float32 tiles on the
//! GoogleMapsCompatible (EPSG:3857) grid, stored with the GeoPackage "2D gridded coverage"
//! extension (TIFF float tiles), so `gdalinfo store.gpkg` reads it as an elevation raster.
//! Terrain encoders (quantized-mesh, terrain-RGB) read tiles from here; they never see the
//! source GeoTIFF.

use super::pyramid::PyramidWriter;
use super::store::GpkgStore;
use crate::model::{Envelope, LayerInfo};
use crate::raster::{decode_tiff, encode_tiff, ElevationTile, NO_DATA};
use crate::StoreError;
use rusqlite::params;

/// The table holding the elevation tiles.
pub const TERRAIN_TABLE: &str = crate::raster::TERRAIN;

/// Writes a new elevation pyramid, replacing any previous one at commit.
pub struct GpkgTerrainImport {
    pyramid: PyramidWriter,
}

impl GpkgStore {
    /// Starts writing an elevation pyramid covering `extent_m` (Web Mercator metres)
    /// for zoom levels 0..=max_zoom.
    pub fn begin_terrain_import(&self, extent_m: Envelope, max_zoom: u8) -> Result<GpkgTerrainImport, StoreError> {
        let pyramid = self.begin_pyramid(TERRAIN_TABLE, "2d-gridded-coverage", "Formosa elevation pyramid (metres, orthometric)", extent_m, max_zoom)?;
        let conn = &pyramid.conn;
        conn.execute(
            "INSERT INTO gpkg_2d_gridded_coverage_ancillary (tile_matrix_set_name, datatype, scale, offset, precision, data_null, grid_cell_encoding, uom)
             VALUES (?1, 'float', 1.0, 0.0, 0.01, ?2, 'grid-value-is-center', 'm')",
            params![TERRAIN_TABLE, NO_DATA as f64],
        )?;
        let def = "http://docs.opengeospatial.org/is/17-066r1/17-066r1.html";
        for (table, column) in [("gpkg_2d_gridded_coverage_ancillary", None), ("gpkg_2d_gridded_tile_ancillary", None), (TERRAIN_TABLE, Some("tile_data"))] {
            conn.execute("INSERT OR REPLACE INTO gpkg_extensions VALUES (?1, ?2, 'gpkg_2d_gridded_coverage', ?3, 'read-write')", params![table, column, def])?;
        }
        Ok(GpkgTerrainImport { pyramid })
    }

    /// The elevation tile at XYZ (z, x, y), if the pyramid has one there.
    pub fn elevation_tile(&self, z: u8, x: u32, y: u32) -> Result<Option<ElevationTile>, StoreError> {
        let bytes = self.pyramid_tile(TERRAIN_TABLE, z, x, y)?;
        bytes.map(|b| decode_tiff(&b).map(|heights| ElevationTile { heights })).transpose()
    }

    /// The terrain's catalogue entry, if a DEM has been imported.
    pub fn terrain(&self) -> Option<LayerInfo> {
        self.layer(TERRAIN_TABLE).map(|l| l.info.clone())
    }
}

impl GpkgTerrainImport {
    /// Stores one tile; tiles with no data at all are skipped (absence means no data).
    pub fn put_tile(&mut self, z: u8, x: u32, y: u32, heights: &[f32]) -> Result<bool, StoreError> {
        let valid: Vec<f64> = heights.iter().filter(|h| **h != NO_DATA).map(|h| *h as f64).collect();
        if valid.is_empty() {
            return Ok(false);
        }
        let n = valid.len() as f64;
        let mean = valid.iter().sum::<f64>() / n;
        let std_dev = (valid.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let min = valid.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = valid.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let id = self.pyramid.put(z, x, y, &encode_tiff(heights)?)?;
        self.pyramid.conn.execute(
            "INSERT INTO gpkg_2d_gridded_tile_ancillary (tpudt_name, tpudt_id, scale, offset, min, max, mean, std_dev)
             VALUES (?1, ?2, 1.0, 0.0, ?3, ?4, ?5, ?6)",
            params![TERRAIN_TABLE, id, min, max, mean, std_dev],
        )?;
        Ok(true)
    }

    pub fn tile_count(&self) -> u64 {
        self.pyramid.tile_count()
    }

    pub fn commit(self, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        self.pyramid.commit("terrain", source, source_crs, details)
    }
}
