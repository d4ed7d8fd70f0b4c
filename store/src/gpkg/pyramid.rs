//! Tile pyramids in the store: GeoPackage tile tables on the GoogleMapsCompatible
//! (EPSG:3857) grid, written in one transaction that replaces the previous pyramid of the
//! same name at commit. The elevation pyramid (float TIFF tiles, "2d-gridded-coverage")
//! and imagery (PNG/JPEG tiles, "tiles") are both kept this way, so GDAL and QGIS read
//! them as rasters.

use super::schema as gpkg;
use super::store::GpkgStore;
use crate::mercator::{tile_size_m, HALF_WORLD};
use crate::model::Envelope;
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

pub use crate::raster::TILE_SIZE;

/// A pyramid being written: one open IMMEDIATE transaction on its own connection.
pub struct PyramidWriter {
    pub(crate) conn: Connection,
    table: String,
    tiles: u64,
    max_zoom: u8,
    extent_m: Envelope,
    finished: bool,
}

impl GpkgStore {
    /// Starts writing pyramid `table` over `extent_m` (Web Mercator metres) for zooms
    /// 0..=max_zoom, dropping (inside the transaction) any previous one of that name.
    pub(crate) fn begin_pyramid(&self, table: &str, data_type: &str, description: &str, extent_m: Envelope, max_zoom: u8) -> Result<PyramidWriter, StoreError> {
        let extent_m = crate::raster::snap_extent(extent_m, max_zoom);
        let conn = self.write_connection()?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        drop_pyramid(&conn, table)?;
        conn.execute_batch(&format!(
            "CREATE TABLE \"{table}\" (id INTEGER PRIMARY KEY AUTOINCREMENT, zoom_level INTEGER NOT NULL,
             tile_column INTEGER NOT NULL, tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL,
             UNIQUE (zoom_level, tile_column, tile_row))"
        ))?;
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
             VALUES (?1, ?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![table, data_type, description, extent_m.min_x, extent_m.min_y, extent_m.max_x, extent_m.max_y, gpkg::SRS_WEB_MERCATOR],
        )?;
        conn.execute("INSERT INTO gpkg_tile_matrix_set VALUES (?1, ?2, ?3, ?4, ?5, ?6)", params![table, gpkg::SRS_WEB_MERCATOR, -HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD])?;
        for z in 0..=max_zoom {
            let n = 1i64 << z;
            let px = tile_size_m(z) / TILE_SIZE as f64;
            conn.execute("INSERT INTO gpkg_tile_matrix VALUES (?1, ?2, ?3, ?3, ?4, ?4, ?5, ?5)", params![table, z, n, TILE_SIZE as i64, px])?;
        }
        Ok(PyramidWriter { conn, table: table.to_string(), tiles: 0, max_zoom, extent_m, finished: false })
    }

    /// Tile (z, x, y) of pyramid `table` (XYZ rows, north first), if it has one there.
    pub fn pyramid_tile(&self, table: &str, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        if self.layer(table).is_none() {
            return Ok(None);
        }
        self.with_reader(|conn| read_tile(conn, table, z, x, y))
    }
}

fn read_tile(conn: &Connection, table: &str, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT tile_data FROM \"{table}\" WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3"))?;
    Ok(stmt.query_row(params![z, x, y], |r| r.get(0)).optional()?)
}

/// Removes pyramid `table` and every GeoPackage and catalogue row about it.
pub(crate) fn drop_pyramid(conn: &Connection, table: &str) -> Result<(), StoreError> {
    conn.execute_batch(&format!("DROP TABLE IF EXISTS \"{table}\""))?;
    for sql in [
        "DELETE FROM gpkg_2d_gridded_tile_ancillary WHERE tpudt_name = ?1",
        "DELETE FROM gpkg_2d_gridded_coverage_ancillary WHERE tile_matrix_set_name = ?1",
        "DELETE FROM gpkg_tile_matrix WHERE table_name = ?1",
        "DELETE FROM gpkg_tile_matrix_set WHERE table_name = ?1",
        "DELETE FROM gpkg_extensions WHERE table_name = ?1",
        "DELETE FROM gpkg_contents WHERE table_name = ?1",
        "DELETE FROM formosa_layers WHERE name = ?1",
    ] {
        conn.execute(sql, [table])?;
    }
    Ok(())
}

impl PyramidWriter {
    /// Stores one encoded tile; returns its row id.
    pub fn put(&mut self, z: u8, x: u32, y: u32, blob: &[u8]) -> Result<i64, StoreError> {
        if z > self.max_zoom {
            return Err(StoreError::Schema(format!("zoom {z} is beyond the pyramid's {}", self.max_zoom)));
        }
        self.conn.execute(&format!("INSERT INTO \"{}\" (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)", self.table), params![z, x, y, blob])?;
        self.tiles += 1;
        Ok(self.conn.last_insert_rowid())
    }

    /// A tile written earlier in this transaction (to build coarser levels from).
    pub fn get(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        read_tile(&self.conn, &self.table, z, x, y)
    }

    pub fn tile_count(&self) -> u64 {
        self.tiles
    }

    pub fn max_zoom(&self) -> u8 {
        self.max_zoom
    }

    /// Catalogues the pyramid as a `kind` layer and commits: from here on readers see it.
    pub fn commit(mut self, kind: &str, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true); // ms: the server tells re-imports apart by it
        let mut details = details;
        if let serde_json::Value::Object(m) = &mut details {
            m.insert("max_zoom".into(), self.max_zoom.into());
            m.insert("extent_3857".into(), serde_json::to_value(self.extent_m).unwrap_or_default());
        }
        self.conn.execute(
            "INSERT INTO formosa_layers (name, kind, source, source_crs, imported_at, feature_count, has_z, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![self.table, kind, source, source_crs, now, self.tiles as i64, (kind == "terrain") as i64, details.to_string()],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for PyramidWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
