//! How the PostGIS store lays out its data: one table per feature layer (geometry in
//! EPSG:4326 with a GiST index, typed columns as in the GeoPackage store), one table per
//! tile pyramid, and the catalogue and change log as tables. Layer tables carry the layer's
//! name, so `ogrinfo PG:…`, QGIS and Martin read them directly.

use crate::model::{ColumnType, LayerKind};

/// Advisory-lock classes (the first key of the two-key form): one per purpose, so keys
/// never collide across purposes or with other applications' locks.
pub const LOCK_SCHEMA: i32 = 0x4653_4348; // "FSCH"
pub const LOCK_LAYER: i32 = 0x464C_5952; // "FLYR", second key hashtext(layer)
pub const LOCK_EDITS: i32 = 0x4645_4454; // "FEDT", second key 0

/// The channel every committed edit is announced on (payload: its seq).
pub const CHANGES_CHANNEL: &str = "formosa_changes";

pub const CREATE_SCHEMA: &str = "
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE IF NOT EXISTS formosa_layers (
  name text PRIMARY KEY, kind text NOT NULL, source text NOT NULL, source_crs text NOT NULL,
  imported_at text NOT NULL, feature_count bigint NOT NULL, has_z boolean NOT NULL DEFAULT false,
  details text NOT NULL DEFAULT '{}',
  min_x double precision, min_y double precision, max_x double precision, max_y double precision);
COMMENT ON TABLE formosa_layers IS 'Formosa layer catalogue (extents in EPSG:4326)';
CREATE TABLE IF NOT EXISTS formosa_changes (
  seq bigint PRIMARY KEY, layer text NOT NULL, fid bigint NOT NULL, op text NOT NULL,
  before_min_x double precision, before_min_y double precision, before_max_x double precision, before_max_y double precision,
  after_min_x double precision, after_min_y double precision, after_max_x double precision, after_max_y double precision,
  at text NOT NULL);
COMMENT ON TABLE formosa_changes IS 'Formosa live edits, in commit order (seq has no gaps)';
CREATE UNLOGGED TABLE IF NOT EXISTS formosa_import_progress (
  host text NOT NULL, pid integer NOT NULL, layer text NOT NULL, kind text NOT NULL,
  started_at text NOT NULL, rows_done bigint NOT NULL, rows_total bigint,
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (host, pid, layer));
COMMENT ON TABLE formosa_import_progress IS 'Formosa imports running now, one row per import, updated every second';
";

fn sql_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Text => "text",
        ColumnType::Integer => "bigint",
        ColumnType::Real => "double precision",
    }
}

/// A short, stable name derived from a layer's (for its staging table and indexes:
/// within PostgreSQL's 63-byte identifiers, and never a valid layer name).
pub fn derived_name(prefix: &str, layer: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = layer.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("formosa_{prefix}_{hash:016x}")
}

/// The table a new feature layer is built in before it is swapped in.
pub fn create_feature_table_sql(table: &str, kind: LayerKind) -> String {
    let cols: Vec<String> = kind.columns().iter().map(|c| format!(", \"{}\" {}", c.name, sql_type(c.ty))).collect();
    format!("CREATE TABLE \"{table}\" (fid bigint PRIMARY KEY, geom geometry NOT NULL CHECK (ST_SRID(geom) = 4326){}, source_attributes text)", cols.concat())
}

/// The table a new tile pyramid is built in.
pub fn create_pyramid_table_sql(table: &str) -> String {
    format!("CREATE TABLE \"{table}\" (z smallint NOT NULL, x integer NOT NULL, y integer NOT NULL, data bytea NOT NULL, PRIMARY KEY (z, x, y))")
}

/// Swaps staging table `staging` in as layer `layer` (dropping the previous table of that
/// name) and names its indexes after the layer. Runs inside the import's transaction.
pub fn swap_in_sql(staging: &str, layer: &str, feature: bool) -> String {
    let mut sql =
        format!("DROP TABLE IF EXISTS \"{layer}\"; ALTER TABLE \"{staging}\" RENAME TO \"{layer}\"; ALTER INDEX \"{staging}_pkey\" RENAME TO \"{}\";", derived_name("pk", layer));
    if feature {
        sql += &format!("CREATE INDEX \"{}\" ON \"{layer}\" USING gist (geom); ANALYZE \"{layer}\";", derived_name("gist", layer));
    }
    sql
}

/// The columns of a feature table as the store reads them, geometry as WKB.
pub fn select_columns(kind: LayerKind, with_extras: bool) -> String {
    let mut cols = String::from("fid, ST_AsBinary(geom)");
    for c in kind.columns() {
        cols += &format!(", \"{}\"", c.name);
    }
    if with_extras {
        cols += ", source_attributes";
    }
    cols
}
