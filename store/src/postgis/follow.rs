//! Applying the change log to this node: the edits other nodes committed (and this node's
//! own, after their commit) reach the in-memory indexes and rows and the listeners here,
//! once each and in `seq` order, whichever node made them. Rows come from the primary: a
//! replica may not have replayed them yet.

use super::feed::changes_since;
use super::layer::{row_data, PgLayer};
use super::schema::select_columns;
use super::store::Inner;
use crate::edit::Change;
use crate::memory::RowData;
use crate::StoreError;
use std::collections::HashMap;

/// Changes read per round trip when catching up.
const BATCH: usize = 1000;

impl Inner {
    /// Applies every logged change after the last applied one (up to `own`'s seq, which
    /// is then applied with the row its edit already has) and tells the listeners.
    pub(crate) fn catch_up(&self, own: Option<(Change, Option<RowData>)>) -> Result<(), StoreError> {
        let mut applied = self.feed.applied.lock().unwrap();
        let target = own.as_ref().map(|(c, _)| c.seq - 1);
        loop {
            if target.is_some_and(|t| *applied >= t) {
                break;
            }
            let batch = changes_since(&self.primary, *applied, BATCH)?;
            let batch: Vec<Change> = batch.into_iter().filter(|c| target.is_none_or(|t| c.seq <= t)).collect();
            if batch.is_empty() {
                break;
            }
            let rows = self.current_rows(&batch)?;
            for c in &batch {
                let row = rows.get(&(c.layer.clone(), c.fid)).cloned();
                self.apply(c, row);
                *applied = c.seq;
            }
            self.reads.note_applied()?;
            if batch.len() < BATCH {
                break;
            }
        }
        if let Some((c, row)) = own {
            if c.seq > *applied {
                self.reads.note_applied()?;
                self.apply(&c, row);
                *applied = c.seq;
            }
        }
        Ok(())
    }

    /// Applies to a layer just (re)loaded as of `since` the edits the feed applied after.
    pub(crate) fn replay_since(&self, layer: &PgLayer, since: i64) -> Result<(), StoreError> {
        let applied = self.feed.applied.lock().unwrap();
        let mut from = since;
        while from < *applied {
            let batch: Vec<Change> = changes_since(&self.primary, from, BATCH)?.into_iter().filter(|c| c.seq <= *applied).collect();
            let Some(last) = batch.last().map(|c| c.seq) else { break };
            let mine: Vec<Change> = batch.into_iter().filter(|c| c.layer == layer.info.name).collect();
            let rows = self.current_rows(&mine)?;
            for c in &mine {
                let row = rows.get(&(c.layer.clone(), c.fid)).cloned();
                layer.resident.apply(c.fid, c.before, c.after, row);
            }
            from = last;
        }
        Ok(())
    }

    fn apply(&self, c: &Change, row: Option<RowData>) {
        if let Some(layer) = self.layers.read().unwrap().get(&c.layer).cloned() {
            layer.resident.apply(c.fid, c.before, c.after, row);
        }
        for listener in self.feed.listeners.read().unwrap().iter() {
            listener(c);
        }
    }

    /// The current rows (from the primary) of the features these changes left in layers
    /// whose rows this node holds.
    fn current_rows(&self, changes: &[Change]) -> Result<HashMap<(String, i64), RowData>, StoreError> {
        let mut wanted: HashMap<String, Vec<i64>> = HashMap::new();
        for c in changes.iter().filter(|c| c.after.is_some()) {
            wanted.entry(c.layer.clone()).or_default().push(c.fid);
        }
        let mut out = HashMap::new();
        for (name, fids) in wanted {
            let Some(layer) = self.layers.read().unwrap().get(&name).cloned() else { continue };
            let Some(kind) = layer.info.feature_kind() else { continue };
            if !layer.resident.has_rows() {
                continue;
            }
            let sql = format!("SELECT {} FROM \"{name}\" WHERE fid = ANY($1)", select_columns(kind, true));
            let rows = self.primary.with(async |c| {
                let rows = c.query(sql.as_str(), &[&fids]).await?;
                rows.iter().map(|r| row_data(r, kind)).collect::<Result<Vec<_>, StoreError>>()
            })?;
            for (fid, data) in rows {
                out.insert((name.clone(), fid), data);
            }
        }
        Ok(out)
    }
}
