//! What a serving process holds of each feature layer, whatever backend keeps it: the
//! spatial index (always) and the rows (once loaded), both kept current by live edits.
//! Tiles are built from here; the database is read for what is not held.

pub mod index;
pub mod rows;

use crate::model::{Attributes, Envelope, Feature, LayerKind, Value};
use crate::StoreError;
use index::SpatialIndex;
use rows::FeatureTable;
use std::sync::RwLock;

/// One feature's new row, as an edit leaves it: WKB geometry, typed values, extras.
#[derive(Clone)]
pub struct RowData {
    pub wkb: Vec<u8>,
    pub values: Vec<Value>,
    pub extras: Option<String>,
}

/// A layer's index and (optional) rows in memory.
pub struct Resident {
    index: RwLock<SpatialIndex>,
    rows: RwLock<Option<FeatureTable>>,
}

impl Resident {
    pub fn new(index: SpatialIndex) -> Resident {
        Resident { index: RwLock::new(index), rows: RwLock::new(None) }
    }

    pub fn query(&self, bbox: &Envelope) -> Vec<i64> {
        self.index.read().unwrap().query(bbox)
    }

    pub fn count(&self, bbox: &Envelope) -> usize {
        self.index.read().unwrap().count(bbox)
    }

    pub fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)> {
        self.index.read().unwrap().query_envelopes(bbox)
    }

    pub fn len(&self) -> usize {
        self.index.read().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_rows(&self) -> bool {
        self.rows.read().unwrap().is_some()
    }

    /// Rows and approximate bytes held, if the rows are in memory.
    pub fn rows_stats(&self) -> Option<(usize, usize)> {
        self.rows.read().unwrap().as_ref().map(|t| (t.len(), t.bytes()))
    }

    /// Loads the rows with `load`, unless they are held already. The rows stay locked
    /// while loading, so an edit applied meanwhile waits and lands in the loaded table.
    pub fn load_rows(&self, load: impl FnOnce() -> Result<FeatureTable, StoreError>) -> Result<(usize, usize), StoreError> {
        if let Some(stats) = self.rows_stats() {
            return Ok(stats);
        }
        let mut slot = self.rows.write().unwrap();
        if let Some(t) = slot.as_ref() {
            return Ok((t.len(), t.bytes()));
        }
        let table = load()?;
        let stats = (table.len(), table.bytes());
        *slot = Some(table);
        Ok(stats)
    }

    /// Features by id from the rows in memory; `None` when the rows are not held.
    pub fn features(&self, ids: &[i64], attributes: Attributes) -> Option<Result<Vec<Feature>, StoreError>> {
        let rows = self.rows.read().unwrap();
        let table = rows.as_ref()?;
        Some(ids.iter().filter_map(|id| table.get(*id, attributes == Attributes::All)).collect())
    }

    /// Features by id with their label points (kept with the rows); `None` when the rows
    /// are not held.
    pub fn labelled_features(&self, ids: &[i64], attributes: Attributes) -> Option<Result<Vec<crate::labels::Labelled>, StoreError>> {
        let rows = self.rows.read().unwrap();
        let table = rows.as_ref()?;
        Some(ids.iter().filter_map(|id| table.get_labelled(*id, attributes == Attributes::All)).collect())
    }

    /// Column `col` (the kind's column order) for these ids; `None` when rows are not held.
    pub fn column(&self, ids: &[i64], col: usize) -> Option<Vec<Value>> {
        let rows = self.rows.read().unwrap();
        let table = rows.as_ref()?;
        Some(ids.iter().map(|id| table.value(*id, col).cloned().unwrap_or(Value::Null)).collect())
    }

    /// Follows one committed edit: the feature left `before` and now lies in `after`
    /// with `row` (`None` for a delete).
    pub fn apply(&self, fid: i64, before: Option<Envelope>, after: Option<Envelope>, row: Option<RowData>) {
        {
            let mut index = self.index.write().unwrap();
            if let Some(b) = before {
                index.remove(fid, b);
            }
            if let Some(a) = after {
                // Removing first makes applying the same change twice harmless (a layer
                // reloaded while the change feed was applying it).
                index.remove(fid, a);
                index.insert(fid, a);
            }
        }
        if let Some(table) = self.rows.write().unwrap().as_mut() {
            match row {
                Some(r) => table.put(fid, r.wkb, r.values, r.extras),
                None => table.remove(fid),
            }
        }
    }
}

/// The position of `column` among `kind`'s columns, or a schema error naming the layer.
pub fn column_position(kind: LayerKind, layer: &str, column: &str) -> Result<usize, StoreError> {
    kind.columns().iter().position(|c| c.name == column).ok_or_else(|| StoreError::Schema(format!("layer '{layer}' has no column '{column}'")))
}
