//! The embedded backend: one SQLite file laid out as a GeoPackage 1.3 (so GDAL and QGIS
//! open it), with in-memory `rstar` R-trees per layer and, for servers, the rows of each
//! feature layer in memory. Implements every store trait.

pub mod edit;
pub mod elevation;
pub mod geometry_blob;
pub mod imagery;
pub mod pyramid;
pub mod schema;
mod store;

pub use elevation::GpkgTerrainImport;
pub use imagery::GpkgImageryImport;
pub use store::{GpkgImport, GpkgLayer, GpkgStore};

use crate::edit::{Change, Edit};
use crate::model::{Attributes, Envelope, Feature, ImportSpec, LayerInfo, LayerKind, NewFeature, Value};
use crate::progress::{self, Tracked, Tracker};
use crate::raster::{ElevationTile, IMAGERY, TERRAIN};
use crate::traits::{self, Catalog, ChangeListener, EditLog, FeatureLayer, Imports, Pyramids, Serving};
use crate::StoreError;
use std::sync::Arc;

impl FeatureLayer for GpkgLayer {
    fn info(&self) -> &LayerInfo {
        &self.info
    }
    fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)> {
        GpkgLayer::query_envelopes(self, bbox)
    }
    fn query(&self, bbox: &Envelope) -> Vec<i64> {
        GpkgLayer::query(self, bbox)
    }
    fn count(&self, bbox: &Envelope) -> usize {
        self.resident.count(bbox)
    }
    fn features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<Feature>, StoreError> {
        GpkgLayer::features(self, ids, attributes)
    }
    fn labelled_features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<crate::labels::Labelled>, StoreError> {
        match self.resident.labelled_features(ids, attributes) {
            Some(found) => found,
            None => Ok(crate::labels::with_labels(GpkgLayer::features(self, ids, attributes)?)),
        }
    }
    fn column(&self, ids: &[i64], column: &str) -> Result<Vec<Value>, StoreError> {
        GpkgLayer::column(self, ids, column)
    }
    fn len(&self) -> usize {
        GpkgLayer::len(self)
    }
}

impl Catalog for GpkgStore {
    fn layers(&self) -> Vec<LayerInfo> {
        GpkgStore::layers(self).iter().map(|l| l.info.clone()).collect()
    }
    fn layer_info(&self, name: &str) -> Option<LayerInfo> {
        self.layer(name).map(|l| l.info.clone())
    }
    fn feature_layer(&self, name: &str) -> Option<Arc<dyn FeatureLayer>> {
        self.layer(name).filter(|l| l.info.feature_kind().is_some()).map(|l| l as Arc<dyn FeatureLayer>)
    }
    fn feature_layers(&self) -> Vec<Arc<dyn FeatureLayer>> {
        GpkgStore::layers(self).into_iter().filter(|l| l.info.feature_kind().is_some()).map(|l| l as Arc<dyn FeatureLayer>).collect()
    }
}

impl Pyramids for GpkgStore {
    fn terrain(&self) -> Option<LayerInfo> {
        GpkgStore::terrain(self)
    }
    fn elevation_tile(&self, z: u8, x: u32, y: u32) -> Result<Option<ElevationTile>, StoreError> {
        GpkgStore::elevation_tile(self, z, x, y)
    }
    fn imagery_tile(&self, layer: &str, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        GpkgStore::imagery_tile(self, layer, z, x, y)
    }
}

impl EditLog for GpkgStore {
    fn ensure_layer(&self, name: &str, kind: LayerKind) -> Result<(), StoreError> {
        GpkgStore::ensure_layer(self, name, kind)
    }
    fn edit(&self, layer: &str, edit: Edit) -> Result<Option<Change>, StoreError> {
        GpkgStore::edit(self, layer, edit)
    }
    fn changes_since(&self, since: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        GpkgStore::changes_since(self, since, limit)
    }
    fn last_change(&self) -> Result<i64, StoreError> {
        GpkgStore::last_change(self)
    }
    fn subscribe(&self, listener: ChangeListener) {
        self.listeners.write().unwrap().push(listener);
    }
}

impl GpkgStore {
    fn progress_board(&self) -> Arc<dyn progress::Board> {
        Arc::new(progress::SidecarBoard::beside(self.path()))
    }
}

// Each import's record starts once it holds the write lock (an import waiting for
// another is not running yet) and ends after its commit or rollback.
impl Imports for GpkgStore {
    fn begin_import(&self, spec: ImportSpec) -> Result<Box<dyn traits::FeatureImport>, StoreError> {
        let (layer, kind) = (spec.layer.clone(), spec.kind.to_string());
        let import = GpkgStore::begin_import(self, spec)?;
        Ok(Tracked::features(Box::new(import), Tracker::start(self.progress_board(), &layer, &kind)))
    }
    fn begin_terrain_import(&self, extent_m: Envelope, max_zoom: u8) -> Result<Box<dyn traits::TerrainImport>, StoreError> {
        let import = GpkgStore::begin_terrain_import(self, extent_m, max_zoom)?;
        Ok(Tracked::terrain(Box::new(import), Tracker::start(self.progress_board(), TERRAIN, TERRAIN)))
    }
    fn begin_imagery_import(&self, name: &str, extent_m: Envelope, max_zoom: u8) -> Result<Box<dyn traits::ImageryImport>, StoreError> {
        let import = GpkgStore::begin_imagery_import(self, name, extent_m, max_zoom)?;
        Ok(Tracked::imagery(Box::new(import), Tracker::start(self.progress_board(), name, IMAGERY)))
    }
}

impl traits::FeatureImport for GpkgImport {
    fn insert(&mut self, f: &NewFeature) -> Result<i64, StoreError> {
        GpkgImport::insert(self, f)
    }
    fn count(&self) -> u64 {
        GpkgImport::count(self)
    }
    fn commit(self: Box<Self>, details: serde_json::Value) -> Result<LayerInfo, StoreError> {
        GpkgImport::commit(*self, details)
    }
    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        GpkgImport::rollback(*self)
    }
}

impl traits::TerrainImport for GpkgTerrainImport {
    fn put_tile(&mut self, z: u8, x: u32, y: u32, heights: &[f32]) -> Result<bool, StoreError> {
        GpkgTerrainImport::put_tile(self, z, x, y, heights)
    }
    fn tile_count(&self) -> u64 {
        GpkgTerrainImport::tile_count(self)
    }
    fn commit(self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        GpkgTerrainImport::commit(*self, source, source_crs, details)
    }
}

impl traits::ImageryImport for GpkgImageryImport {
    fn put_tile(&mut self, z: u8, x: u32, y: u32, encoded: &[u8]) -> Result<(), StoreError> {
        GpkgImageryImport::put_tile(self, z, x, y, encoded)
    }
    fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        GpkgImageryImport::tile(self, z, x, y)
    }
    fn tile_count(&self) -> u64 {
        GpkgImageryImport::tile_count(self)
    }
    fn commit(self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        GpkgImageryImport::commit(*self, source, source_crs, details)
    }
}

impl Serving for GpkgStore {
    fn location(&self) -> String {
        self.path().display().to_string()
    }
    fn refresh(&self) -> Result<Vec<String>, StoreError> {
        GpkgStore::refresh(self)
    }
    fn keep_rows_in_memory(&self, name: &str) -> Result<(usize, usize), StoreError> {
        self.load_feature_table(name)
    }
    fn rows_in_memory(&self, name: &str) -> bool {
        self.layer(name).is_some_and(|l| l.has_feature_table())
    }
    fn flush(&self) -> Result<(), StoreError> {
        GpkgStore::checkpoint(self)
    }
    fn imports_in_progress(&self) -> Result<Vec<progress::ImportProgress>, StoreError> {
        progress::in_progress(self.progress_board().as_ref())
    }
}
