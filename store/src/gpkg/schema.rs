//! The GeoPackage 1.3 layout of the store file: core tables, spatial reference systems,
//! the R*Tree spatial-index extension (with the SQL functions its triggers call) and the
//! gridded-coverage extension used for elevation. Everything GDAL and QGIS need to open
//! the store as an ordinary GeoPackage.

use super::geometry_blob;
use crate::model::LayerKind;
use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection};

/// 'GPKG' as the SQLite application id, and GeoPackage 1.3.0 as user_version.
const APPLICATION_ID: i32 = 0x4750_4B47;
const USER_VERSION: i32 = 10300;

pub const SRS_WGS84: i32 = 4326;
pub const SRS_WEB_MERCATOR: i32 = 3857;

const WKT_4326: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;
const WKT_3857: &str = r#"PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]],PROJECTION["Mercator_1SP"],PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],EXTENSION["PROJ4","+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs"],AUTHORITY["EPSG","3857"]]"#;

const CORE_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_tile_matrix_set (
  table_name TEXT NOT NULL PRIMARY KEY, srs_id INTEGER NOT NULL,
  min_x DOUBLE NOT NULL, min_y DOUBLE NOT NULL, max_x DOUBLE NOT NULL, max_y DOUBLE NOT NULL,
  CONSTRAINT fk_gtms_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gtms_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_tile_matrix (
  table_name TEXT NOT NULL, zoom_level INTEGER NOT NULL, matrix_width INTEGER NOT NULL,
  matrix_height INTEGER NOT NULL, tile_width INTEGER NOT NULL, tile_height INTEGER NOT NULL,
  pixel_x_size DOUBLE NOT NULL, pixel_y_size DOUBLE NOT NULL,
  CONSTRAINT pk_ttm PRIMARY KEY (table_name, zoom_level),
  CONSTRAINT fk_tmm_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE IF NOT EXISTS gpkg_2d_gridded_coverage_ancillary (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, tile_matrix_set_name TEXT NOT NULL UNIQUE,
  datatype TEXT NOT NULL DEFAULT 'integer', scale REAL NOT NULL DEFAULT 1.0,
  offset REAL NOT NULL DEFAULT 0.0, precision REAL DEFAULT 1.0, data_null REAL,
  grid_cell_encoding TEXT DEFAULT 'grid-value-is-center', uom TEXT,
  field_name TEXT DEFAULT 'Height', quantity_definition TEXT DEFAULT 'Height',
  CONSTRAINT fk_g2dgtct_name FOREIGN KEY(tile_matrix_set_name) REFERENCES gpkg_tile_matrix_set (table_name),
  CHECK (datatype in ('integer','float')));
CREATE TABLE IF NOT EXISTS gpkg_2d_gridded_tile_ancillary (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, tpudt_name TEXT NOT NULL, tpudt_id INTEGER NOT NULL,
  scale REAL NOT NULL DEFAULT 1.0, offset REAL NOT NULL DEFAULT 0.0, min REAL DEFAULT NULL,
  max REAL DEFAULT NULL, mean REAL DEFAULT NULL, std_dev REAL DEFAULT NULL,
  CONSTRAINT fk_g2dgtat_name FOREIGN KEY (tpudt_name) REFERENCES gpkg_contents(table_name),
  UNIQUE (tpudt_name, tpudt_id));
-- Formosa's own catalogue: what each layer is, where it came from, when.
CREATE TABLE IF NOT EXISTS formosa_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL, fid INTEGER NOT NULL, op TEXT NOT NULL,
  before_min_x REAL, before_min_y REAL, before_max_x REAL, before_max_y REAL,
  after_min_x REAL, after_min_y REAL, after_max_x REAL, after_max_y REAL,
  at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS formosa_layers (
  name TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL,
  source_crs TEXT NOT NULL, imported_at TEXT NOT NULL, feature_count INTEGER NOT NULL,
  has_z INTEGER NOT NULL DEFAULT 0, details TEXT NOT NULL DEFAULT '{}');
"#;

/// Registers the SQL functions the GeoPackage R*Tree triggers call, so that edits made
/// through this connection keep the spatial index current.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    type Pick = fn(&crate::model::Envelope) -> f64;
    let picks: [(&str, Pick); 4] = [("ST_MinX", |e| e.min_x), ("ST_MaxX", |e| e.max_x), ("ST_MinY", |e| e.min_y), ("ST_MaxY", |e| e.max_y)];
    for (name, pick) in picks {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            let blob: Option<Vec<u8>> = ctx.get(0)?;
            Ok(blob.and_then(|b| geometry_blob::header_envelope(&b).ok().flatten()).map(|e| pick(&e)))
        })?;
    }
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| {
        let blob: Option<Vec<u8>> = ctx.get(0)?;
        Ok(blob.map(|b| b.len() < 4 || b[3] & 0x10 != 0))
    })?;
    Ok(())
}

/// Applies the connection settings every store connection uses.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // WAL: readers (the server) never block on a writer (an import or a live edit), and a
    // killed writer leaves only uncommitted frames that recovery ignores.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    register_functions(conn)
}

/// Creates the GeoPackage core tables if the file is new.
pub fn ensure_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    conn.pragma_update(None, "user_version", USER_VERSION)?;
    conn.execute_batch(CORE_SCHEMA)?;
    let srs: [(&str, i32, &str, i32, &str, &str); 4] = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
        ("WGS 84 geodetic", SRS_WGS84, "EPSG", 4326, WKT_4326, "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
        ("WGS 84 / Pseudo-Mercator", SRS_WEB_MERCATOR, "EPSG", 3857, WKT_3857, "Web Mercator (GoogleMapsCompatible tiles)"),
    ];
    // Register the catalogue as a GeoPackage attributes table, as the spec asks of every
    // user table.
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES ('formosa_layers', 'attributes', 'formosa_layers', 'Formosa layer catalogue')",
        [],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES ('formosa_changes', 'attributes', 'formosa_changes', 'Formosa live edits, in commit order')",
        [],
    )?;
    for (name, id, org, code, def, desc) in srs {
        conn.execute("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, ?6)", params![name, id, org, code, def, desc])?;
    }
    Ok(())
}

pub fn rtree_name(table: &str) -> String {
    format!("rtree_{table}_geom")
}

/// CREATE TABLE for a feature layer of the given kind.
pub fn create_layer_table_sql(table: &str, kind: LayerKind) -> String {
    let mut cols = String::new();
    for c in kind.columns() {
        cols.push_str(&format!(", \"{}\" {}", c.name, c.ty.sql()));
    }
    format!("CREATE TABLE \"{table}\" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {gt}{cols}, source_attributes TEXT)", gt = kind.geometry_type_name())
}

/// The R*Tree virtual table of a layer (filled separately, before the triggers exist).
pub fn create_rtree_sql(table: &str) -> String {
    format!("CREATE VIRTUAL TABLE \"{}\" USING rtree(id, minx, maxx, miny, maxy)", rtree_name(table))
}

/// The six triggers of the GeoPackage R*Tree extension (GeoPackage 1.3, annex F.3).
pub fn rtree_triggers_sql(t: &str) -> String {
    let r = rtree_name(t);
    let vals = "VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom))";
    format!(
        r#"
CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}" WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN INSERT OR REPLACE INTO "{r}" {vals}; END;
CREATE TRIGGER "{r}_update1" AFTER UPDATE OF geom ON "{t}" WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN INSERT OR REPLACE INTO "{r}" {vals}; END;
CREATE TRIGGER "{r}_update2" AFTER UPDATE OF geom ON "{t}" WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN DELETE FROM "{r}" WHERE id = OLD.fid; END;
CREATE TRIGGER "{r}_update3" AFTER UPDATE ON "{t}" WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN DELETE FROM "{r}" WHERE id = OLD.fid; INSERT OR REPLACE INTO "{r}" {vals}; END;
CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}" WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN DELETE FROM "{r}" WHERE id IN (OLD.fid, NEW.fid); END;
CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old.geom NOT NULL
BEGIN DELETE FROM "{r}" WHERE id = OLD.fid; END;
"#
    )
}

/// Removes a feature layer and everything that refers to it. Used inside the import
/// transaction, so the removal becomes visible only together with the new data.
pub fn drop_layer(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    let r = rtree_name(table);
    for suffix in ["insert", "update1", "update2", "update3", "update4", "delete"] {
        conn.execute_batch(&format!("DROP TRIGGER IF EXISTS \"{r}_{suffix}\""))?;
    }
    conn.execute_batch(&format!("DROP TABLE IF EXISTS \"{r}\"; DROP TABLE IF EXISTS \"{table}\";"))?;
    conn.execute("DELETE FROM gpkg_extensions WHERE table_name = ?1", [table])?;
    conn.execute("DELETE FROM gpkg_geometry_columns WHERE table_name = ?1", [table])?;
    conn.execute("DELETE FROM gpkg_contents WHERE table_name = ?1", [table])?;
    conn.execute("DELETE FROM formosa_layers WHERE name = ?1", [table])?;
    Ok(())
}

/// Registers a feature table in the GeoPackage catalogue tables.
pub fn register_feature_table(conn: &Connection, table: &str, kind: LayerKind, has_z: bool) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES (?1, 'features', ?1, ?2, ?3)",
        params![table, format!("Formosa {kind} layer"), SRS_WGS84],
    )?;
    conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, ?4, 0)", params![table, kind.geometry_type_name(), SRS_WGS84, has_z as i32])?;
    conn.execute("INSERT INTO gpkg_extensions VALUES (?1, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", [table])?;
    Ok(())
}

/// True when a table of that name exists.
pub fn table_exists(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = ?1", [table], |r| r.get::<_, i64>(0)).map(|n| n > 0)
}
