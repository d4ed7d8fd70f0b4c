//! The PostGIS backend: the store in a PostgreSQL database with PostGIS, shared by many
//! stateless Formosa nodes. Same layer kinds and columns as the GeoPackage store, EPSG:4326
//! geometry with GiST indexes, the catalogue and the change log as tables. Imports build
//! in one transaction and swap in at commit; edits are acknowledged after COMMIT and
//! reach every node through LISTEN/NOTIFY and the change log. Implements every store
//! trait. Built with the `postgis` feature.

mod db;
mod edit;
mod feed;
mod follow;
mod import;
mod layer;
mod progress;
mod reads;
mod schema;
mod store;

pub use db::without_password;
pub use import::{PgImport, PgPyramidImport};
pub use layer::PgLayer;
pub use store::PgStore;

use crate::edit::{Change, Edit};
use crate::model::{Envelope, ImportSpec, LayerInfo, LayerKind};
use crate::progress::{Tracked, Tracker};
use crate::raster::{decode_tiff, ElevationTile, IMAGERY, TERRAIN};
use crate::traits::{self, Catalog, ChangeListener, EditLog, FeatureLayer, Imports, Pyramids, Serving};
use crate::StoreError;
use std::sync::Arc;

impl Catalog for PgStore {
    fn layers(&self) -> Vec<LayerInfo> {
        PgStore::layers(self).iter().map(|l| l.info.clone()).collect()
    }
    fn layer_info(&self, name: &str) -> Option<LayerInfo> {
        self.layer(name).map(|l| l.info.clone())
    }
    fn feature_layer(&self, name: &str) -> Option<Arc<dyn FeatureLayer>> {
        self.layer(name).filter(|l| l.info.feature_kind().is_some()).map(|l| l as Arc<dyn FeatureLayer>)
    }
    fn feature_layers(&self) -> Vec<Arc<dyn FeatureLayer>> {
        PgStore::layers(self).into_iter().filter(|l| l.info.feature_kind().is_some()).map(|l| l as Arc<dyn FeatureLayer>).collect()
    }
}

impl Pyramids for PgStore {
    fn terrain(&self) -> Option<LayerInfo> {
        self.layer(TERRAIN).map(|l| l.info.clone())
    }
    fn elevation_tile(&self, z: u8, x: u32, y: u32) -> Result<Option<ElevationTile>, StoreError> {
        let bytes = self.pyramid_tile(TERRAIN, z, x, y)?;
        bytes.map(|b| decode_tiff(&b).map(|heights| ElevationTile { heights })).transpose()
    }
    fn imagery_tile(&self, layer: &str, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.pyramid_tile(layer, z, x, y)
    }
}

impl EditLog for PgStore {
    fn ensure_layer(&self, name: &str, kind: LayerKind) -> Result<(), StoreError> {
        PgStore::ensure_layer(self, name, kind)
    }
    fn edit(&self, layer: &str, edit: Edit) -> Result<Option<Change>, StoreError> {
        PgStore::edit(self, layer, edit)
    }
    fn changes_since(&self, since: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        PgStore::changes_since(self, since, limit)
    }
    fn last_change(&self) -> Result<i64, StoreError> {
        PgStore::last_change(self)
    }
    fn subscribe(&self, listener: ChangeListener) {
        self.inner.feed.subscribe(listener);
    }
}

impl PgStore {
    fn progress_board(&self) -> Arc<dyn crate::progress::Board> {
        Arc::new(progress::PgBoard { db: self.inner.primary.clone() })
    }
}

// Each import's record starts once it holds its layer's lock (an import waiting for
// another is not running yet) and ends after its commit or rollback.
impl Imports for PgStore {
    fn begin_import(&self, spec: ImportSpec) -> Result<Box<dyn traits::FeatureImport>, StoreError> {
        let (layer, kind) = (spec.layer.clone(), spec.kind.to_string());
        let import = PgStore::begin_import(self, spec)?;
        Ok(Tracked::features(Box::new(import), Tracker::start(self.progress_board(), &layer, &kind)))
    }
    fn begin_terrain_import(&self, extent_m: Envelope, max_zoom: u8) -> Result<Box<dyn traits::TerrainImport>, StoreError> {
        let import = PgStore::begin_terrain_import(self, extent_m, max_zoom)?;
        Ok(Tracked::terrain(Box::new(import), Tracker::start(self.progress_board(), TERRAIN, TERRAIN)))
    }
    fn begin_imagery_import(&self, name: &str, extent_m: Envelope, max_zoom: u8) -> Result<Box<dyn traits::ImageryImport>, StoreError> {
        let import = PgStore::begin_imagery_import(self, name, extent_m, max_zoom)?;
        Ok(Tracked::imagery(Box::new(import), Tracker::start(self.progress_board(), name, IMAGERY)))
    }
}

impl Serving for PgStore {
    fn location(&self) -> String {
        PgStore::location(self)
    }
    fn refresh(&self) -> Result<Vec<String>, StoreError> {
        PgStore::refresh(self)
    }
    fn keep_rows_in_memory(&self, name: &str) -> Result<(usize, usize), StoreError> {
        PgStore::keep_rows_in_memory(self, name)
    }
    fn rows_in_memory(&self, name: &str) -> bool {
        self.layer(name).is_some_and(|l| l.resident.has_rows())
    }
    fn degraded(&self) -> Option<String> {
        self.inner.feed.trouble()
    }
    fn imports_in_progress(&self) -> Result<Vec<crate::progress::ImportProgress>, StoreError> {
        crate::progress::in_progress(self.progress_board().as_ref())
    }
}
