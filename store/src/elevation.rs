//! The elevation pyramid: the DEM resampled once into 256×256 float32 tiles on the
//! GoogleMapsCompatible (EPSG:3857) grid, stored with the GeoPackage "2D gridded coverage"
//! extension (TIFF float tiles), so `gdalinfo store.gpkg` reads it as an elevation raster.
//! Terrain encoders (quantized-mesh, terrain-RGB) read tiles from here; they never see the
//! source GeoTIFF.

use crate::gpkg;
use crate::mercator::{tile_size_m, HALF_WORLD};
use crate::model::Envelope;
use crate::store::{LayerInfo, Store};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use std::io::Cursor;

/// The table holding the elevation tiles.
pub const TERRAIN_TABLE: &str = "terrain";
/// Pixels per tile side.
pub const TILE_SIZE: usize = 256;
/// Value written where the DEM has no data.
pub const NO_DATA: f32 = -32768.0;

/// One elevation tile: TILE_SIZE × TILE_SIZE heights, row-major from the north-west,
/// each the height at the *centre* of its cell (metres, orthometric as in the source).
#[derive(Debug, Clone, PartialEq)]
pub struct ElevationTile {
    pub heights: Vec<f32>,
}

impl ElevationTile {
    pub fn get(&self, col: usize, row: usize) -> Option<f32> {
        let v = self.heights[row * TILE_SIZE + col];
        (v != NO_DATA).then_some(v)
    }
}

/// Encodes heights as a single-band float32 TIFF, LZW-compressed (the encoding the
/// gridded-coverage extension prescribes for float data).
pub fn encode_tiff(heights: &[f32]) -> Result<Vec<u8>, StoreError> {
    let mut buf = Cursor::new(Vec::new());
    let mut enc = tiff::encoder::TiffEncoder::new(&mut buf)
        .map_err(|e| StoreError::Elevation(e.to_string()))?
        .with_compression(tiff::encoder::Compression::Lzw);
    enc.write_image::<tiff::encoder::colortype::Gray32Float>(TILE_SIZE as u32, TILE_SIZE as u32, heights)
        .map_err(|e| StoreError::Elevation(e.to_string()))?;
    Ok(buf.into_inner())
}

pub fn decode_tiff(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(|e| StoreError::Elevation(e.to_string()))?;
    match dec.read_image().map_err(|e| StoreError::Elevation(e.to_string()))? {
        tiff::decoder::DecodingResult::F32(v) if v.len() == TILE_SIZE * TILE_SIZE => Ok(v),
        _ => Err(StoreError::Elevation("elevation tile is not 256×256 float32".into())),
    }
}

/// Writes a new elevation pyramid, replacing any previous one at commit.
pub struct TerrainImport {
    conn: Connection,
    tiles: u64,
    max_zoom: u8,
    extent_m: Envelope,
    finished: bool,
}

impl Store {
    /// Starts writing an elevation pyramid covering `extent_m` (Web Mercator metres)
    /// for zoom levels 0..=max_zoom.
    pub fn begin_terrain_import(&self, extent_m: Envelope, max_zoom: u8) -> Result<TerrainImport, StoreError> {
        // Snapped outward to whole pixels of the deepest level: GDAL takes the raster's
        // origin from gpkg_contents, and an origin between pixels shifts every value it
        // reads by a fraction of a pixel.
        let px = crate::mercator::tile_size_m(max_zoom) / TILE_SIZE as f64;
        let half = crate::mercator::HALF_WORLD;
        let snap = |v: f64, up: bool| {
            let cells = (v + half) / px;
            let cells = if up { (cells - 1e-6).ceil() } else { (cells + 1e-6).floor() };
            cells * px - half
        };
        let extent_m = Envelope {
            min_x: snap(extent_m.min_x, false),
            min_y: snap(extent_m.min_y, false),
            max_x: snap(extent_m.max_x, true),
            max_y: snap(extent_m.max_y, true),
        };
        let conn = self.write_connection()?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        drop_terrain(&conn)?;
        conn.execute_batch(&format!(
            "CREATE TABLE \"{TERRAIN_TABLE}\" (id INTEGER PRIMARY KEY AUTOINCREMENT, zoom_level INTEGER NOT NULL,
             tile_column INTEGER NOT NULL, tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL,
             UNIQUE (zoom_level, tile_column, tile_row))"
        ))?;
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
             VALUES (?1, '2d-gridded-coverage', ?1, 'Formosa elevation pyramid (metres, orthometric)', ?2, ?3, ?4, ?5, ?6)",
            params![TERRAIN_TABLE, extent_m.min_x, extent_m.min_y, extent_m.max_x, extent_m.max_y, gpkg::SRS_WEB_MERCATOR],
        )?;
        conn.execute(
            "INSERT INTO gpkg_tile_matrix_set VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![TERRAIN_TABLE, gpkg::SRS_WEB_MERCATOR, -HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD],
        )?;
        for z in 0..=max_zoom {
            let n = 1i64 << z;
            let px = tile_size_m(z) / TILE_SIZE as f64;
            conn.execute(
                "INSERT INTO gpkg_tile_matrix VALUES (?1, ?2, ?3, ?3, ?4, ?4, ?5, ?5)",
                params![TERRAIN_TABLE, z, n, TILE_SIZE as i64, px],
            )?;
        }
        conn.execute(
            "INSERT INTO gpkg_2d_gridded_coverage_ancillary (tile_matrix_set_name, datatype, scale, offset, precision, data_null, grid_cell_encoding, uom)
             VALUES (?1, 'float', 1.0, 0.0, 0.01, ?2, 'grid-value-is-center', 'm')",
            params![TERRAIN_TABLE, NO_DATA as f64],
        )?;
        let def = "http://docs.opengeospatial.org/is/17-066r1/17-066r1.html";
        for (table, column) in [
            ("gpkg_2d_gridded_coverage_ancillary", None),
            ("gpkg_2d_gridded_tile_ancillary", None),
            (TERRAIN_TABLE, Some("tile_data")),
        ] {
            conn.execute(
                "INSERT OR REPLACE INTO gpkg_extensions VALUES (?1, ?2, 'gpkg_2d_gridded_coverage', ?3, 'read-write')",
                params![table, column, def],
            )?;
        }
        Ok(TerrainImport { conn, tiles: 0, max_zoom, extent_m, finished: false })
    }

    /// The elevation tile at XYZ (z, x, y), if the pyramid has one there.
    pub fn elevation_tile(&self, z: u8, x: u32, y: u32) -> Result<Option<ElevationTile>, StoreError> {
        if self.layer(TERRAIN_TABLE).is_none() {
            return Ok(None);
        }
        let bytes: Option<Vec<u8>> = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT tile_data FROM \"{TERRAIN_TABLE}\" WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3"
            ))?;
            Ok(stmt.query_row(params![z, x, y], |r| r.get(0)).optional()?)
        })?;
        bytes.map(|b| decode_tiff(&b).map(|heights| ElevationTile { heights })).transpose()
    }

    /// The terrain's catalogue entry, if a DEM has been imported.
    pub fn terrain(&self) -> Option<LayerInfo> {
        self.layer(TERRAIN_TABLE).map(|l| l.info.clone())
    }
}

fn drop_terrain(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(&format!("DROP TABLE IF EXISTS \"{TERRAIN_TABLE}\""))?;
    for sql in [
        "DELETE FROM gpkg_2d_gridded_tile_ancillary WHERE tpudt_name = ?1",
        "DELETE FROM gpkg_2d_gridded_coverage_ancillary WHERE tile_matrix_set_name = ?1",
        "DELETE FROM gpkg_tile_matrix WHERE table_name = ?1",
        "DELETE FROM gpkg_tile_matrix_set WHERE table_name = ?1",
        "DELETE FROM gpkg_extensions WHERE table_name = ?1",
        "DELETE FROM gpkg_contents WHERE table_name = ?1",
        "DELETE FROM formosa_layers WHERE name = ?1",
    ] {
        conn.execute(sql, [TERRAIN_TABLE])?;
    }
    Ok(())
}

impl TerrainImport {
    /// Stores one tile; tiles with no data at all are skipped (absence means no data).
    pub fn put_tile(&mut self, z: u8, x: u32, y: u32, heights: &[f32]) -> Result<bool, StoreError> {
        if z > self.max_zoom {
            return Err(StoreError::Elevation(format!("zoom {z} is beyond the pyramid's {}", self.max_zoom)));
        }
        let valid: Vec<f64> = heights.iter().filter(|h| **h != NO_DATA).map(|h| *h as f64).collect();
        if valid.is_empty() {
            return Ok(false);
        }
        let n = valid.len() as f64;
        let mean = valid.iter().sum::<f64>() / n;
        let std_dev = (valid.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let min = valid.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = valid.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let blob = encode_tiff(heights)?;
        self.conn.execute(
            &format!("INSERT INTO \"{TERRAIN_TABLE}\" (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)"),
            params![z, x, y, blob],
        )?;
        let id = self.conn.last_insert_rowid();
        self.conn.execute(
            "INSERT INTO gpkg_2d_gridded_tile_ancillary (tpudt_name, tpudt_id, scale, offset, min, max, mean, std_dev)
             VALUES (?1, ?2, 1.0, 0.0, ?3, ?4, ?5, ?6)",
            params![TERRAIN_TABLE, id, min, max, mean, std_dev],
        )?;
        self.tiles += 1;
        Ok(true)
    }

    pub fn tile_count(&self) -> u64 {
        self.tiles
    }

    pub fn commit(mut self, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true); // ms: the server tells re-imports apart by it
        let mut details = details;
        if let serde_json::Value::Object(m) = &mut details {
            m.insert("max_zoom".into(), self.max_zoom.into());
            m.insert("extent_3857".into(), serde_json::to_value(self.extent_m).unwrap_or_default());
        }
        self.conn.execute(
            "INSERT INTO formosa_layers (name, kind, source, source_crs, imported_at, feature_count, has_z, details)
             VALUES (?1, 'terrain', ?2, ?3, ?4, ?5, 1, ?6)",
            params![TERRAIN_TABLE, source, source_crs, now, self.tiles as i64, details.to_string()],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for TerrainImport {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiff_tiles_round_trip_exactly() {
        let heights: Vec<f32> = (0..TILE_SIZE * TILE_SIZE).map(|i| (i % 977) as f32 * 0.37 - 12.5).collect();
        let bytes = encode_tiff(&heights).unwrap();
        assert_eq!(decode_tiff(&bytes).unwrap(), heights);
    }
}
