//! An in-memory copy of one layer's rows, for serving: tiles read thousands of features
//! each, and reading them row by row from SQLite was half of a z15 tile's time (profile in
//! docs/ARCHITECTURE.md). Rows keep their GeoPackage geometry blob (compact; decoding is
//! ~150 ns) and their typed values, indexed by fid.
//!
//! The table is a snapshot of the layer at the moment it was read, like the layer's
//! R-tree; both are rebuilt together when the store reloads.

use super::geometry_blob;
use crate::model::{Feature, LayerKind, Value};
use crate::StoreError;
use std::borrow::Cow;

struct Row {
    blob: Box<[u8]>,
    values: Box<[Value]>,
    /// The source attributes that map to no column, as stored (a JSON object).
    extras: Option<Box<str>>,
}

pub struct FeatureTable {
    kind: LayerKind,
    first_fid: i64,
    rows: Vec<Option<Row>>,
    bytes: usize,
}

impl FeatureTable {
    /// Reads every row of `table` (a feature layer of `kind`) in fid order.
    pub(crate) fn load(conn: &rusqlite::Connection, table: &str, kind: LayerKind) -> Result<FeatureTable, StoreError> {
        let cols: Vec<String> = kind.columns().iter().map(|c| format!("\"{}\"", c.name)).collect();
        let sql = format!("SELECT fid, geom, {}, source_attributes FROM \"{table}\" ORDER BY fid", cols.join(", "));
        let snapshot = conn.unchecked_transaction()?;
        let mut stmt = snapshot.prepare(&sql)?;
        let mut rows_out: Vec<Option<Row>> = Vec::new();
        let mut first_fid = None;
        let mut bytes = 0usize;
        let mut rows = stmt.query([])?;
        let n = kind.columns().len();
        while let Some(r) = rows.next()? {
            let fid: i64 = r.get(0)?;
            let first = *first_fid.get_or_insert(fid);
            let blob: Vec<u8> = r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default();
            let values: Box<[Value]> = (0..n).map(|i| value_of(r.get_ref(2 + i).ok())).collect();
            let extras: Option<String> = r.get(2 + n)?;
            bytes += blob.len()
                + values.len() * std::mem::size_of::<Value>()
                + values.iter().map(|v| if let Value::Text(s) = v { s.len() } else { 0 }).sum::<usize>()
                + extras.as_ref().map_or(0, |e| e.len());
            let slot = (fid - first) as usize;
            if rows_out.len() <= slot {
                rows_out.resize_with(slot + 1, || None);
            }
            rows_out[slot] = Some(Row { blob: blob.into(), values, extras: extras.map(String::into_boxed_str) });
        }
        bytes += rows_out.len() * std::mem::size_of::<Option<Row>>();
        Ok(FeatureTable { kind, first_fid: first_fid.unwrap_or(1), rows: rows_out, bytes })
    }

    /// Puts one row (a live edit): inserted or replaced.
    pub(crate) fn put(&mut self, fid: i64, blob: Vec<u8>, values: Vec<Value>, extras: Option<String>) {
        if self.rows.iter().all(Option::is_none) {
            self.first_fid = fid.min(self.first_fid);
        }
        if fid < self.first_fid {
            let shift = (self.first_fid - fid) as usize;
            self.rows.splice(0..0, std::iter::repeat_with(|| None).take(shift));
            self.first_fid = fid;
        }
        let slot = (fid - self.first_fid) as usize;
        if self.rows.len() <= slot {
            self.rows.resize_with(slot + 1, || None);
        }
        self.bytes += blob.len() + values.len() * std::mem::size_of::<Value>();
        self.rows[slot] = Some(Row { blob: blob.into(), values: values.into(), extras: extras.map(String::into_boxed_str) });
    }

    /// Forgets one row (a live delete).
    pub(crate) fn remove(&mut self, fid: i64) {
        if let Some(slot) = usize::try_from(fid - self.first_fid).ok().and_then(|i| self.rows.get_mut(i)) {
            *slot = None;
        }
    }

    pub fn len(&self) -> usize {
        self.rows.iter().filter(|r| r.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes held (blobs, values, slots).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Column `col` (in the kind's column order) of the row with this fid, if any.
    pub fn value(&self, fid: i64, col: usize) -> Option<&Value> {
        self.rows.get(usize::try_from(fid - self.first_fid).ok()?)?.as_ref()?.values.get(col)
    }

    /// The feature with this fid, if any; `with_extras` adds the source attributes.
    pub fn get(&self, fid: i64, with_extras: bool) -> Option<Result<Feature, StoreError>> {
        let row = self.rows.get(usize::try_from(fid - self.first_fid).ok()?)?.as_ref()?;
        let mut properties: Vec<(Cow<'static, str>, Value)> = self.kind.columns().iter().zip(row.values.iter()).map(|(c, v)| (Cow::Borrowed(c.name), v.clone())).collect();
        if with_extras {
            properties.extend(extras_of(row.extras.as_deref()));
        }
        Some(match geometry_blob::decode(&row.blob) {
            Ok((geometry, _)) => Ok(Feature { id: fid, geometry, properties }),
            Err(e) => Err(StoreError::CorruptGeometry { id: fid, reason: e.to_string() }),
        })
    }
}

/// A column value as the store reads it (blobs are not column values).
pub(crate) fn value_of(v: Option<rusqlite::types::ValueRef>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        Some(ValueRef::Integer(n)) => Value::Integer(n),
        Some(ValueRef::Real(x)) => Value::Real(x),
        Some(ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        _ => Value::Null,
    }
}

/// The source attributes stored as a JSON object, as typed values.
pub(crate) fn extras_of(json: Option<&str>) -> Vec<(Cow<'static, str>, Value)> {
    let Some(Ok(serde_json::Value::Object(map))) = json.map(serde_json::from_str) else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Integer(b as i64),
                serde_json::Value::Number(n) => n.as_i64().map(Value::Integer).unwrap_or(Value::Real(n.as_f64().unwrap_or(f64::NAN))),
                serde_json::Value::String(s) => Value::Text(s),
                other => Value::Text(other.to_string()),
            };
            (Cow::Owned(k), v)
        })
        .collect()
}
