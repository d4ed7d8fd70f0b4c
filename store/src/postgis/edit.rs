//! Live edits on PostGIS: one feature inserted, replaced or deleted in its own
//! transaction on the primary, logged in `formosa_changes` and announced (NOTIFY) in the
//! same transaction, and acknowledged only after COMMIT. Edits take one advisory lock for
//! the whole store, so `seq` follows commit order with no gaps (the feed relies on it);
//! they also share the layer's lock, so they wait while that layer is re-imported.

use super::schema::{CHANGES_CHANNEL, LOCK_EDITS, LOCK_LAYER};
use super::store::PgStore;
use crate::edit::{Change, Edit};
use crate::memory::RowData;
use crate::model::{coerce, ColumnType, Envelope, ImportMode, ImportSpec, LayerKind, NewFeature, Value};
use crate::traits::FeatureImport;
use crate::StoreError;
use tokio_postgres::types::ToSql;

/// A value bound as its column's type.
fn bind(v: &Value, ty: ColumnType) -> Box<dyn ToSql + Sync + Send> {
    match (coerce(v.clone(), ty), ty) {
        (Value::Text(s), ColumnType::Text) => Box::new(Some(s)),
        (Value::Integer(n), ColumnType::Integer) => Box::new(Some(n)),
        (Value::Real(x), ColumnType::Real) => Box::new(Some(x)),
        (_, ColumnType::Text) => Box::new(None::<String>),
        (_, ColumnType::Integer) => Box::new(None::<i64>),
        (_, ColumnType::Real) => Box::new(None::<f64>),
    }
}

impl PgStore {
    /// Creates an empty layer of `kind` if the store has none of that name (under the
    /// layer's lock, so nodes starting together create it once).
    pub fn ensure_layer(&self, name: &str, kind: LayerKind) -> Result<(), StoreError> {
        let existing = self.inner.primary.with(async |c| Ok(super::store::read_catalogue(c).await?.into_iter().find(|l| l.name == name)))?;
        match existing {
            Some(l) if l.feature_kind() == Some(kind) => {}
            Some(l) => return Err(StoreError::KindMismatch { layer: name.into(), existing: l.kind, requested: kind.to_string() }),
            None => {
                // Append creates the layer when missing and keeps what a racing node made.
                let import = self.begin_import(ImportSpec {
                    layer: name.into(),
                    kind,
                    mode: ImportMode::Append,
                    source: "live edits".into(),
                    source_crs: "EPSG:4326".into(),
                    has_z: false,
                })?;
                Box::new(import).commit(serde_json::json!({ "live": true }))?;
            }
        }
        self.refresh().map(|_| ())
    }

    /// Applies one edit durably and returns it as logged (see [`crate::EditLog::edit`]).
    pub fn edit(&self, layer: &str, edit: Edit) -> Result<Option<Change>, StoreError> {
        let l = self.layer(layer).ok_or_else(|| StoreError::UnknownLayer(layer.into()))?;
        let kind = l.info.feature_kind().ok_or_else(|| StoreError::UnknownLayer(layer.into()))?;
        let columns = kind.columns();
        let has_z = l.info.has_z;
        let encode = |f: &NewFeature| -> Result<(Vec<u8>, Envelope, Option<String>), StoreError> {
            let (env, extra) = f.checked_for_edit(kind)?;
            Ok((crate::wkb::encode(&f.geometry, has_z), env, extra))
        };
        let (new_row, fid_given) = match &edit {
            Edit::Insert(f) => (Some((encode(f)?, f.values.clone())), None),
            Edit::Replace(fid, f) => (Some((encode(f)?, f.values.clone())), Some(*fid)),
            Edit::Delete(fid) => (None, Some(*fid)),
        };
        let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let committed = self.inner.primary.run(async {
            let mut client = self.inner.primary.pooled().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))", &[&LOCK_LAYER, &layer]).await?;
            tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LOCK_EDITS]).await?;
            let before: Option<Envelope> = match fid_given {
                Some(fid) => {
                    let sql = format!("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT Box2D(geom) AS b FROM \"{layer}\" WHERE fid = $1) AS x");
                    match tx.query_opt(sql.as_str(), &[&fid]).await? {
                        Some(r) => Some(Envelope { min_x: r.get(0), min_y: r.get(1), max_x: r.get(2), max_y: r.get(3) }),
                        None => return Ok(None),
                    }
                }
                None => None,
            };
            let fid = match fid_given {
                Some(fid) => fid,
                None => tx.query_one(&format!("SELECT coalesce(max(fid), 0) + 1 FROM \"{layer}\""), &[]).await?.get(0),
            };
            let op = match (&new_row, fid_given) {
                (Some(((wkb, _, extra), values)), given) => {
                    let bound: Vec<Box<dyn ToSql + Sync + Send>> = values.iter().zip(columns).map(|(v, c)| bind(v, c.ty)).collect();
                    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&fid, wkb];
                    params.extend(bound.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)));
                    params.push(extra);
                    let marks: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 3)).collect();
                    let extras_mark = names.len() + 3;
                    if given.is_none() {
                        let sql = format!(
                            "INSERT INTO \"{layer}\" (fid, geom, {}, source_attributes) VALUES ($1, ST_GeomFromWKB($2, 4326), {}, ${extras_mark})",
                            names.join(", "),
                            marks.join(", ")
                        );
                        tx.execute(sql.as_str(), &params).await?;
                        "insert"
                    } else {
                        let sets: Vec<String> = names.iter().zip(&marks).map(|(n, m)| format!("{n} = {m}")).collect();
                        let sql = format!("UPDATE \"{layer}\" SET geom = ST_GeomFromWKB($2, 4326), {}, source_attributes = ${extras_mark} WHERE fid = $1", sets.join(", "));
                        tx.execute(sql.as_str(), &params).await?;
                        "update"
                    }
                }
                (None, _) => {
                    tx.execute(&format!("DELETE FROM \"{layer}\" WHERE fid = $1"), &[&fid]).await?;
                    "delete"
                }
            };
            let after = new_row.as_ref().map(|((_, env, _), _)| *env);
            let seq: i64 = tx.query_one("SELECT coalesce(max(seq), 0) + 1 FROM formosa_changes", &[]).await?.get(0);
            let e = |e: Option<Envelope>, f: fn(&Envelope) -> f64| e.as_ref().map(f);
            tx.execute(
                "INSERT INTO formosa_changes (seq, layer, fid, op, before_min_x, before_min_y, before_max_x, before_max_y,
                 after_min_x, after_min_y, after_max_x, after_max_y, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &seq,
                    &layer,
                    &fid,
                    &op,
                    &e(before, |v| v.min_x),
                    &e(before, |v| v.min_y),
                    &e(before, |v| v.max_x),
                    &e(before, |v| v.max_y),
                    &e(after, |v| v.min_x),
                    &e(after, |v| v.min_y),
                    &e(after, |v| v.max_x),
                    &e(after, |v| v.max_y),
                    &at,
                ],
            )
            .await?;
            let delta: i64 = match op {
                "insert" => 1,
                "delete" => -1,
                _ => 0,
            };
            tx.execute("UPDATE formosa_layers SET feature_count = feature_count + $2 WHERE name = $1", &[&layer, &delta]).await?;
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANGES_CHANNEL, &seq.to_string()]).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Some(Change { seq, layer: layer.into(), fid, op: op.into(), before, after, at: at.clone() }))
        })?;
        let Some(change) = committed else { return Ok(None) };
        // Durable from here on; the node's memory and listeners follow through the feed's
        // gate, after any edit another node committed before this one.
        let row = new_row.map(|((wkb, _, extras), values)| RowData { wkb, values, extras });
        if let Err(e) = self.inner.catch_up(Some((change.clone(), row))) {
            tracing::warn!("edit {} committed; this node will show it once the change feed catches up: {e}", change.seq);
        }
        Ok(Some(change))
    }

    pub fn changes_since(&self, since: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        super::feed::changes_since(&self.inner.primary, since, limit)
    }

    pub fn last_change(&self) -> Result<i64, StoreError> {
        self.inner.primary.with(async |c| Ok(c.query_one("SELECT coalesce(max(seq), 0) FROM formosa_changes", &[]).await?.get(0)))
    }
}
