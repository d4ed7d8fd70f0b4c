//! Live edits: one feature inserted, replaced or deleted in its own transaction, made
//! durable (synchronous = FULL) before the call returns, and logged in `formosa_changes`
//! in the same transaction, so the change feed never misses or invents an edit. After
//! the commit, the layer's in-memory index (and rows, when loaded) follow.

use super::geometry_blob;
use super::schema as gpkg;
use super::store::GpkgStore;
use crate::edit::{Change, Edit};
use crate::memory::RowData;
use crate::model::{Envelope, ImportMode, ImportSpec, NewFeature};
use crate::{LayerKind, StoreError};
use rusqlite::{params, OptionalExtension};

impl GpkgStore {
    /// Creates an empty layer of `kind` (for layers written live, such as incidents) if
    /// the store has none of that name.
    pub fn ensure_layer(&self, name: &str, kind: LayerKind) -> Result<(), StoreError> {
        if let Some(l) = self.layer(name) {
            return match l.info.feature_kind() {
                Some(k) if k == kind => Ok(()),
                _ => Err(StoreError::KindMismatch { layer: name.into(), existing: l.info.kind.clone(), requested: kind.to_string() }),
            };
        }
        let import =
            self.begin_import(ImportSpec { layer: name.into(), kind, mode: ImportMode::Replace, source: "live edits".into(), source_crs: "EPSG:4326".into(), has_z: false })?;
        import.commit(serde_json::json!({ "live": true }))?;
        self.reload()
    }

    /// Applies one edit durably and returns it as logged. `Replace` and `Delete` of a
    /// feature that does not exist give `Ok(None)`.
    pub fn edit(&self, layer: &str, edit: Edit) -> Result<Option<Change>, StoreError> {
        let (l, kind) = self.feature_layer(layer)?;
        let mut writer = self.writer.lock().unwrap();
        if writer.is_none() {
            let conn = self.write_connection()?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            *writer = Some(conn);
        }
        let conn = writer.as_mut().expect("writer");
        let columns = kind.columns();
        let rtree = gpkg::rtree_name(layer);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let old_env = |fid: i64| -> rusqlite::Result<Option<Envelope>> {
            tx.query_row(&format!("SELECT minx, miny, maxx, maxy FROM \"{rtree}\" WHERE id = ?1"), [fid], |r| {
                Ok(Envelope { min_x: r.get(0)?, min_y: r.get(1)?, max_x: r.get(2)?, max_y: r.get(3)? })
            })
            .optional()
        };
        let encode = |f: &NewFeature| -> Result<(Vec<u8>, Envelope, Option<String>), StoreError> {
            let (env, extra) = f.checked_for_edit(kind)?;
            Ok((geometry_blob::encode(&f.geometry, gpkg::SRS_WGS84, l.info.has_z), env, extra))
        };
        let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
        let (fid, op, before, after, row) = match &edit {
            Edit::Insert(f) => {
                let (blob, env, extra) = encode(f)?;
                let placeholders: Vec<String> = (0..names.len()).map(|i| format!("?{}", i + 2)).collect();
                let sql = format!("INSERT INTO \"{layer}\" (geom, {}, source_attributes) VALUES (?1, {}, ?{})", names.join(", "), placeholders.join(", "), names.len() + 2);
                let mut p: Vec<&dyn rusqlite::ToSql> = vec![&blob];
                p.extend(f.values.iter().map(|v| v as &dyn rusqlite::ToSql));
                p.push(&extra);
                tx.execute(&sql, p.as_slice())?;
                let fid = tx.last_insert_rowid();
                (fid, "insert", None, Some(env), Some((blob, f.values.clone(), extra)))
            }
            Edit::Replace(fid, f) => {
                let Some(before) = old_env(*fid)? else { return Ok(None) };
                let (blob, env, extra) = encode(f)?;
                let sets: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{n} = ?{}", i + 2)).collect();
                let sql = format!("UPDATE \"{layer}\" SET geom = ?1, {}, source_attributes = ?{} WHERE fid = ?{}", sets.join(", "), names.len() + 2, names.len() + 3);
                let mut p: Vec<&dyn rusqlite::ToSql> = vec![&blob];
                p.extend(f.values.iter().map(|v| v as &dyn rusqlite::ToSql));
                p.push(&extra);
                p.push(fid);
                tx.execute(&sql, p.as_slice())?;
                (*fid, "update", Some(before), Some(env), Some((blob, f.values.clone(), extra)))
            }
            Edit::Delete(fid) => {
                let Some(before) = old_env(*fid)? else { return Ok(None) };
                tx.execute(&format!("DELETE FROM \"{layer}\" WHERE fid = ?1"), [fid])?;
                (*fid, "delete", Some(before), None, None)
            }
        };
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let e = |e: Option<Envelope>, f: fn(&Envelope) -> f64| e.as_ref().map(f);
        tx.execute(
            "INSERT INTO formosa_changes (layer, fid, op, before_min_x, before_min_y, before_max_x, before_max_y,
             after_min_x, after_min_y, after_max_x, after_max_y, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                layer,
                fid,
                op,
                e(before, |v| v.min_x),
                e(before, |v| v.min_y),
                e(before, |v| v.max_x),
                e(before, |v| v.max_y),
                e(after, |v| v.min_x),
                e(after, |v| v.min_y),
                e(after, |v| v.max_x),
                e(after, |v| v.max_y),
                at
            ],
        )?;
        let seq = tx.last_insert_rowid();
        let delta: i64 = match op {
            "insert" => 1,
            "delete" => -1,
            _ => 0,
        };
        tx.execute("UPDATE formosa_layers SET feature_count = feature_count + ?2 WHERE name = ?1", params![layer, delta])?;
        tx.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?1", [layer])?;
        tx.commit()?;
        // Durable from here on; now the in-memory views.
        let row = row.map(|(blob, values, extras)| RowData { wkb: geometry_blob::wkb_part(&blob).expect("a blob just encoded").to_vec(), values, extras });
        l.resident.apply(fid, before, after, row);
        // Listeners (tile invalidation, the change feed) run while the writer is held, so
        // they see the changes in commit order: the feed's subscribers skip any `seq` older
        // than the last they got.
        let change = Change { seq, layer: layer.into(), fid, op: op.into(), before, after, at };
        for listener in self.listeners.read().unwrap().iter() {
            listener(&change);
        }
        drop(writer);
        Ok(Some(change))
    }

    /// Logged edits after `since` (a `seq`), oldest first, at most `limit`.
    pub fn changes_since(&self, since: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, layer, fid, op, before_min_x, before_min_y, before_max_x, before_max_y,
                 after_min_x, after_min_y, after_max_x, after_max_y, at FROM formosa_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let env = |r: &rusqlite::Row, i: usize| -> rusqlite::Result<Option<Envelope>> {
                Ok(match (r.get::<_, Option<f64>>(i)?, r.get::<_, Option<f64>>(i + 1)?, r.get::<_, Option<f64>>(i + 2)?, r.get::<_, Option<f64>>(i + 3)?) {
                    (Some(a), Some(b), Some(c), Some(d)) => Some(Envelope { min_x: a, min_y: b, max_x: c, max_y: d }),
                    _ => None,
                })
            };
            let rows = stmt.query_map(params![since, limit as i64], |r| {
                Ok(Change { seq: r.get(0)?, layer: r.get(1)?, fid: r.get(2)?, op: r.get(3)?, before: env(r, 4)?, after: env(r, 8)?, at: r.get(12)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The newest `seq` in the change log (0 when nothing was edited).
    pub fn last_change(&self) -> Result<i64, StoreError> {
        self.with_conn(|conn| Ok(conn.query_row("SELECT coalesce(max(seq), 0) FROM formosa_changes", [], |r| r.get(0))?))
    }
}
