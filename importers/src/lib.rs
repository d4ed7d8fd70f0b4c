//! Formosa's importers: read agency data with GDAL (any OGR/GDAL format), reproject with
//! PROJ (through GDAL's coordinate transformation), map the agencies' attribute names onto
//! the store's typed columns, validate and repair geometry, and write into the store in
//! one transaction. An import either lands whole or leaves the store as it was.

pub mod attributes;
pub mod classes;
pub mod crs;
pub mod geometry;
pub mod imagery;
pub mod kinds;
pub mod progress;
pub mod raster;
pub mod report;
pub mod source;
pub mod terrain;
mod vector;

pub use imagery::{import_imagery, ImageryOptions};
pub use report::ImportReport;
pub use terrain::{import_terrain, TerrainOptions};
pub use vector::{import_vector, VectorOptions};

use std::path::PathBuf;
use thiserror::Error;

/// Why an import could not run or was abandoned. Every variant reads as one line that
/// tells the user what is wrong and, where there is one, what to do.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{0}: no such file")]
    NotFound(PathBuf),
    #[error("{path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} is empty: nothing to import")]
    Empty { path: PathBuf },
    #[error("{path} is {found}; `formosa import {command}` needs {expected}")]
    WrongKind { path: PathBuf, found: String, expected: String, command: String },
    #[error("{path} has no layer '{name}'; its layers are: {layers} (pass one of them with --source-layer)")]
    NoSuchLayer { path: PathBuf, name: String, layers: String },
    #[error("{path}: {table} has no geometry column: it is a table of attributes only, with nothing to put on the map{hint}")]
    NoGeometry { path: PathBuf, table: String, hint: String },
    #[error("{path} is a Formosa store (layers: {layers}), not source data to import: serve it with `formosa --store {path} serve`, copy it into another store with `formosa publish {path} DEST`, or export one layer first with ogr2ogr")]
    FormosaStore { path: PathBuf, layers: String },
    #[error("{path} is {what}, a tile archive (tiles already cut and simplified, e.g. by `formosa seed`), not source data: import the files it was made from{hint}")]
    TileArchive { path: PathBuf, what: String, hint: String },
    #[error("{path}: band {band} is {found}; `formosa import {command}` takes {expected}{hint}")]
    BandType { path: PathBuf, band: usize, found: String, command: &'static str, expected: &'static str, hint: String },
    #[error("{path} has no coordinate reference system (no .prj or CRS in the file); pass --srs, e.g. --srs EPSG:3826 for TWD97 TM2")]
    NoCrs { path: PathBuf },
    #[error("unknown CRS '{0}': give an EPSG code such as EPSG:3826 (TWD97 TM2), EPSG:3825, EPSG:3828 (TWD67) or EPSG:4326")]
    BadCrs(String),
    #[error("cannot transform from {from} to WGS84: {reason}")]
    Transform { from: String, reason: String },
    #[error("{path}: attribute '{field}' of feature {fid} is not valid UTF-8 and the file does not say its encoding; pass --encoding (Taiwanese shapefiles are often --encoding cp950, i.e. Big5)")]
    Encoding { path: PathBuf, field: String, fid: i64 },
    #[error("{0}")]
    Mapping(String),
    #[error("{path}: nothing could be imported: all {skipped} features were skipped (first reason: {first_reason})")]
    NothingImported { path: PathBuf, skipped: u64, first_reason: String },
    #[error("{path}: the DEM has no valid cells (every cell is nodata)")]
    AllNoData { path: PathBuf },
    #[error("{0}")]
    Store(#[from] formosa_store::StoreError),
    #[error("GDAL: {0}")]
    Gdal(String),
}

impl From<gdal::errors::GdalError> for ImportError {
    fn from(e: gdal::errors::GdalError) -> Self {
        ImportError::Gdal(e.to_string())
    }
}
