//! What encoders, importers and the server read from and write to a store, whatever keeps
//! it: the embedded GeoPackage file (`gpkg/`) today, PostgreSQL/PostGIS next.
//!
//! The traits speak the store's model only (lon/lat envelopes, typed values, tiles on the
//! GoogleMapsCompatible grid); how a backend lays its data out never shows through them.

use crate::edit::{Change, Edit};
use crate::model::{Attributes, Envelope, Feature, LayerInfo, LayerKind, NewFeature, Value};
use crate::raster::ElevationTile;
use crate::StoreError;
use std::sync::Arc;

/// How far outward a backend's spatial index may round an envelope, in degrees (about a
/// metre). Spatial indexes keep 32-bit boxes (SQLite's R*Tree, PostGIS's GiST): a point
/// comes back as a box up to two float steps wide. Encoders that tell points from areas
/// by their envelope allow for this much.
pub const ENVELOPE_ROUNDING_DEG: f64 = 1e-5;

/// One feature layer, as encoders read it. Handles are cheap to clone (`Arc`) and stay
/// valid while a re-import swaps in a successor: readers finish on the layer they took.
pub trait FeatureLayer: Send + Sync {
    /// The catalogue entry as of the layer's last import (or reload).
    fn info(&self) -> &LayerInfo;

    /// Ids and envelopes of the features whose envelope meets `bbox` (lon/lat), in no
    /// particular order. Envelopes contain their feature and are at most
    /// [`ENVELOPE_ROUNDING_DEG`] larger on each side.
    fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)>;

    /// Features by id, in the order asked; ids that do not exist are left out.
    fn features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<Feature>, StoreError>;

    /// [`features`](Self::features) with each one's label point (see [`crate::labels`]).
    /// Backends that hold rows in memory keep the points with them, so a polygon's point
    /// is found once, not once per tile; this default computes them on every call.
    fn labelled_features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<crate::labels::Labelled>, StoreError> {
        Ok(crate::labels::with_labels(self.features(ids, attributes)?))
    }

    /// One typed column's values for these ids, in order (`Null` where there is no such
    /// row): what clustering and generalisation read from thousands of rows.
    fn column(&self, ids: &[i64], column: &str) -> Result<Vec<Value>, StoreError>;

    /// Features currently in the layer (imports and live edits).
    fn len(&self) -> usize;

    /// The layer's kind. Feature layers always have one.
    fn kind(&self) -> LayerKind {
        self.info().feature_kind().expect("a feature layer has a feature kind")
    }

    fn name(&self) -> &str {
        &self.info().name
    }

    /// How many features' envelopes meet `bbox`: what a tile there will read, known
    /// before reading it.
    fn count(&self, bbox: &Envelope) -> usize {
        self.query_envelopes(bbox).len()
    }

    /// Ids of the features whose envelope meets `bbox`.
    fn query(&self, bbox: &Envelope) -> Vec<i64> {
        self.query_envelopes(bbox).into_iter().map(|(id, _)| id).collect()
    }

    /// One feature with every attribute, if it exists.
    fn feature(&self, id: i64) -> Result<Option<Feature>, StoreError> {
        Ok(self.features(&[id], Attributes::All)?.pop())
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The catalogue: every layer the store holds (feature layers, the terrain, imagery), and
/// handles on the feature layers.
pub trait Catalog: Send + Sync {
    /// Every layer's catalogue entry, by name.
    fn layers(&self) -> Vec<LayerInfo>;

    /// A feature layer by name; `None` for unknown names and for raster layers.
    fn feature_layer(&self, name: &str) -> Option<Arc<dyn FeatureLayer>>;

    /// One layer's catalogue entry.
    fn layer_info(&self, name: &str) -> Option<LayerInfo> {
        self.layers().into_iter().find(|l| l.name == name)
    }

    /// Every feature layer, by name.
    fn feature_layers(&self) -> Vec<Arc<dyn FeatureLayer>> {
        self.layers().iter().filter(|l| l.feature_kind().is_some()).filter_map(|l| self.feature_layer(&l.name)).collect()
    }
}

/// Tile pyramids on the GoogleMapsCompatible grid (XYZ rows, north first): the elevation
/// pyramid and imagery layers. A store without rasters keeps the defaults.
pub trait Pyramids: Send + Sync {
    /// The terrain's catalogue entry, if a DEM has been imported.
    fn terrain(&self) -> Option<LayerInfo> {
        None
    }

    /// The elevation tile at (z, x, y), if the pyramid has one there.
    fn elevation_tile(&self, _z: u8, _x: u32, _y: u32) -> Result<Option<ElevationTile>, StoreError> {
        Ok(None)
    }

    /// The encoded (PNG or JPEG) tile of imagery layer `layer` at (z, x, y), if any.
    fn imagery_tile(&self, _layer: &str, _z: u8, _x: u32, _y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
}

/// Called with every committed edit, in commit order, on the thread that committed it (or
/// that learnt of it), before [`EditLog::edit`] returns. A listener must not edit the
/// store itself.
pub type ChangeListener = Arc<dyn Fn(&Change) + Send + Sync>;

/// Live edits: each applied durably in its own transaction and logged in order.
pub trait EditLog: Send + Sync {
    /// Creates an empty layer of `kind` (for layers written live, such as incidents) if
    /// the store has none of that name; a layer of another kind is an error.
    fn ensure_layer(&self, name: &str, kind: LayerKind) -> Result<(), StoreError>;

    /// Applies one edit durably and returns it as logged. `Replace` and `Delete` of a
    /// feature that does not exist give `Ok(None)`.
    fn edit(&self, layer: &str, edit: Edit) -> Result<Option<Change>, StoreError>;

    /// Logged edits after `since` (a `seq`), oldest first, at most `limit`.
    fn changes_since(&self, since: i64, limit: usize) -> Result<Vec<Change>, StoreError>;

    /// The newest `seq` in the change log (0 when nothing was edited).
    fn last_change(&self) -> Result<i64, StoreError>;

    /// Registers `listener` for every edit committed from now on.
    fn subscribe(&self, listener: ChangeListener);
}

/// Imports: nothing is visible to readers until `commit`; dropping an import (or a crash)
/// rolls it back.
pub trait Imports: Send + Sync {
    /// Starts an import of feature layer `spec.layer`.
    fn begin_import(&self, spec: crate::model::ImportSpec) -> Result<Box<dyn FeatureImport>, StoreError>;

    /// Starts writing the elevation pyramid over `extent_m` (Web Mercator metres), zooms
    /// 0..=max_zoom, replacing the previous one at commit.
    fn begin_terrain_import(&self, extent_m: Envelope, max_zoom: u8) -> Result<Box<dyn TerrainImport>, StoreError>;

    /// Starts writing imagery layer `name` over `extent_m`, zooms 0..=max_zoom.
    fn begin_imagery_import(&self, name: &str, extent_m: Envelope, max_zoom: u8) -> Result<Box<dyn ImageryImport>, StoreError>;
}

/// A feature import in progress.
pub trait FeatureImport: Send {
    /// Writes one feature; returns its id.
    fn insert(&mut self, f: &NewFeature) -> Result<i64, StoreError>;
    /// Features in the layer so far (appends count the existing ones).
    fn count(&self) -> u64;
    /// How far the importer is, in the units of its source (features read, deepest-zoom
    /// tiles), for other processes to see ([`Serving::imports_in_progress`]). Cheap: call
    /// it as often as the importer's own progress bar moves.
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
    /// Indexes, catalogues and commits: from here on readers see the new contents.
    fn commit(self: Box<Self>, details: serde_json::Value) -> Result<LayerInfo, StoreError>;
    /// Gives up: nothing of this import is kept.
    fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// An elevation pyramid being written.
pub trait TerrainImport: Send {
    /// Stores one tile of heights (row-major from the north-west); tiles with no data at
    /// all are skipped (false).
    fn put_tile(&mut self, z: u8, x: u32, y: u32, heights: &[f32]) -> Result<bool, StoreError>;
    fn tile_count(&self) -> u64;
    /// How far the importer is, in the units of its source (features read, deepest-zoom
    /// tiles), for other processes to see (`Serving::imports_in_progress`). Cheap: call
    /// it as often as the importer's own progress bar moves.
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
    fn commit(self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError>;
}

/// An imagery pyramid being written.
pub trait ImageryImport: Send {
    fn put_tile(&mut self, z: u8, x: u32, y: u32, encoded: &[u8]) -> Result<(), StoreError>;
    /// A tile written earlier in this import (coarser levels are made from finer ones).
    fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError>;
    fn tile_count(&self) -> u64;
    /// How far the importer is, in the units of its source (features read, deepest-zoom
    /// tiles), for other processes to see (`Serving::imports_in_progress`). Cheap: call
    /// it as often as the importer's own progress bar moves.
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
    fn commit(self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError>;
}

/// What a long-running server needs of its store beyond reads and edits.
pub trait Serving: Send + Sync {
    /// Where the store is, for logs and `/health` (a path, or a URL without password).
    fn location(&self) -> String;

    /// Picks up what other processes committed (imports, replacements, removals) since
    /// the last look; returns the names of the layers that changed. Handles on the old
    /// layers stay valid.
    fn refresh(&self) -> Result<Vec<String>, StoreError>;

    /// Reads feature layer `name`'s rows into memory, where the backend can, so tiles stop
    /// going to disk for them; returns rows and approximate bytes held.
    fn keep_rows_in_memory(&self, _name: &str) -> Result<(usize, usize), StoreError> {
        Ok((0, 0))
    }

    /// Whether feature layer `name`'s rows are in memory.
    fn rows_in_memory(&self, _name: &str) -> bool {
        false
    }

    /// Why the store cannot be reached now, if it cannot (a database that went away): the
    /// server then serves what it holds and says it is degraded.
    fn degraded(&self) -> Option<String> {
        None
    }

    /// Tidies up before the process exits (a server stopping): what was committed is
    /// durable already, so this only saves the next start work. The GeoPackage folds its
    /// write-ahead log into the file; PostgreSQL has nothing to do.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Imports running now on this store, from any process (`formosa import` beside a
    /// server): records whose process died are left out, and removed.
    fn imports_in_progress(&self) -> Result<Vec<crate::model::ImportProgress>, StoreError> {
        Ok(Vec::new())
    }
}

/// What encoders read: the catalogue's feature layers and the tile pyramids.
pub trait Source: Catalog + Pyramids {}

impl<T: Catalog + Pyramids + ?Sized> Source for T {}

/// A whole store: what the server holds, and what `formosa` opens from a store URL.
pub trait Store: Source + EditLog + Imports + Serving {}

impl<T: Source + EditLog + Imports + Serving + ?Sized> Store for T {}
