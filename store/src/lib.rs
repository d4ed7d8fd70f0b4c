//! Formosa's store: the data model, the traits every backend implements (`traits`), and
//! the backends themselves, one folder each (`gpkg/`: the embedded GeoPackage file).
//! Web Mercator math and WKB are shared by all of them and by the encoders.
//!
//! Data flows one way through Formosa: importers write here, encoders read from here.

pub mod edit;
pub mod gpkg;
pub mod labels;
pub mod memory;
pub mod mercator;
pub mod model;
#[cfg(feature = "postgis")]
pub mod postgis;
pub mod progress;
pub mod raster;
pub mod traits;
pub mod wkb;

pub use edit::{Change, Edit};
pub use gpkg::GpkgStore;
pub use model::{
    coerce, validate_layer_name, Attributes, Column, ColumnType, Coord, Envelope, Feature, Geometry, ImportMode, ImportProgress, ImportSpec, LayerInfo, LayerKind, NewFeature,
    Value,
};
pub use traits::{Catalog, ChangeListener, EditLog, FeatureImport, FeatureLayer, ImageryImport, Imports, Pyramids, Serving, Source, Store, TerrainImport};

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open store {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{0} is an SQLite file but not a GeoPackage; refusing to write into it")]
    NotAStore(PathBuf),
    #[error(
        "layer name '{0}' is not allowed: use lower-case letters, digits and '_', starting with a letter (at most 63), and no gpkg_/rtree_/sqlite_/formosa_ prefix or 'terrain'"
    )]
    BadLayerName(String),
    #[error("no layer named '{0}' in the store")]
    UnknownLayer(String),
    #[error("layer '{layer}' holds {existing} features; cannot append {requested} features to it")]
    KindMismatch { layer: String, existing: String, requested: String },
    #[error("feature {id} has a corrupt geometry: {reason}")]
    CorruptGeometry { id: i64, reason: String },
    #[error("{0}")]
    Schema(String),
    #[error("elevation tile: {0}")]
    Elevation(String),
    #[error("store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot connect to store {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The database cannot be reached now (down, restarting, too slow): try again later.
    #[error("the store database is unavailable: {0}")]
    Unavailable(String),
    #[error("store database error: {0}")]
    Database(String),
}

impl StoreError {
    fn open(path: &Path, e: impl std::fmt::Display) -> Self {
        StoreError::Open { path: path.to_path_buf(), reason: e.to_string() }
    }
}
