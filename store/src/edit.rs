//! Live edits and the change log's entries, as every backend applies and reports them.

use crate::model::{Envelope, NewFeature};
use serde::Serialize;

/// One live edit.
pub enum Edit {
    Insert(NewFeature),
    /// Replaces feature `fid` (geometry and every attribute).
    Replace(i64, NewFeature),
    Delete(i64),
}

/// A committed edit, as the change feed reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub layer: String,
    pub fid: i64,
    /// "insert", "update" or "delete".
    pub op: String,
    /// Where the feature was before (updates and deletes) and after (inserts and
    /// updates): the areas whose tiles changed.
    pub before: Option<Envelope>,
    pub after: Option<Envelope>,
    pub at: String,
}
