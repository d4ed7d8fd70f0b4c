//! An in-memory copy of one layer's rows, for serving: tiles read thousands of features
//! each, and reading them row by row from the database was half of a z15 tile's time
//! (profile in docs/ARCHITECTURE.md). Rows keep their geometry as WKB (compact; decoding
//! is ~150 ns) and their typed values, indexed by fid.
//!
//! The table is a snapshot of the layer at the moment it was read, like the layer's
//! R-tree; both are rebuilt together when the store reloads, and live edits update both.

use crate::labels::label_point;
use crate::model::{Feature, LayerKind, Value};
use crate::StoreError;
use std::borrow::Cow;
use std::sync::OnceLock;

struct Row {
    wkb: Box<[u8]>,
    values: Box<[Value]>,
    /// The source attributes that map to no column, as stored (a JSON object).
    extras: Option<Box<str>>,
    /// The polygon's label point, computed the first time a tile asks for it and kept
    /// until the row is replaced (an edit puts a new row, so its label is new too).
    /// Lazily, not at load: 1 M parcels at several µs each would add seconds to every
    /// start, for labels that only z16 tiles carry.
    label: OnceLock<Option<(f64, f64)>>,
}

pub struct FeatureTable {
    kind: LayerKind,
    first_fid: i64,
    rows: Vec<Option<Row>>,
    bytes: usize,
}

impl FeatureTable {
    /// An empty table for a layer of `kind`; fill it with [`FeatureTable::put`] (in fid
    /// order when loading: then slots are appended, never shifted).
    pub fn new(kind: LayerKind) -> FeatureTable {
        FeatureTable { kind, first_fid: 1, rows: Vec::new(), bytes: 0 }
    }

    /// Puts one row (loaded, or a live edit): inserted or replaced.
    pub fn put(&mut self, fid: i64, wkb: Vec<u8>, values: Vec<Value>, extras: Option<String>) {
        if self.rows.iter().all(Option::is_none) {
            self.rows.clear();
            self.first_fid = fid;
        }
        if fid < self.first_fid {
            let shift = (self.first_fid - fid) as usize;
            self.rows.splice(0..0, std::iter::repeat_with(|| None).take(shift));
            self.first_fid = fid;
        }
        let slot = (fid - self.first_fid) as usize;
        if self.rows.len() <= slot {
            self.bytes += (slot + 1 - self.rows.len()) * std::mem::size_of::<Option<Row>>();
            self.rows.resize_with(slot + 1, || None);
        }
        self.bytes += wkb.len()
            + values.len() * std::mem::size_of::<Value>()
            + values.iter().map(|v| if let Value::Text(s) = v { s.len() } else { 0 }).sum::<usize>()
            + extras.as_ref().map_or(0, |e| e.len())
            + std::mem::size_of::<OnceLock<Option<(f64, f64)>>>();
        self.rows[slot] = Some(Row { wkb: wkb.into(), values: values.into(), extras: extras.map(String::into_boxed_str), label: OnceLock::new() });
    }

    /// Forgets one row (a live delete).
    pub fn remove(&mut self, fid: i64) {
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

    /// Approximate heap bytes held (geometries, values, slots).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Column `col` (in the kind's column order) of the row with this fid, if any.
    pub fn value(&self, fid: i64, col: usize) -> Option<&Value> {
        self.row(fid)?.values.get(col)
    }

    fn row(&self, fid: i64) -> Option<&Row> {
        self.rows.get(usize::try_from(fid - self.first_fid).ok()?)?.as_ref()
    }

    /// The feature with this fid, if any; `with_extras` adds the source attributes.
    pub fn get(&self, fid: i64, with_extras: bool) -> Option<Result<Feature, StoreError>> {
        Some(Self::feature_of(fid, self.row(fid)?, self.kind, with_extras))
    }

    /// [`get`](Self::get) with the feature's label point (computed on first use, then kept).
    pub fn get_labelled(&self, fid: i64, with_extras: bool) -> Option<Result<crate::labels::Labelled, StoreError>> {
        let row = self.row(fid)?;
        Some(Self::feature_of(fid, row, self.kind, with_extras).map(|f| {
            let label = *row.label.get_or_init(|| label_point(&f.geometry));
            (f, label)
        }))
    }

    fn feature_of(fid: i64, row: &Row, kind: LayerKind, with_extras: bool) -> Result<Feature, StoreError> {
        let mut properties: Vec<(Cow<'static, str>, Value)> = kind.columns().iter().zip(row.values.iter()).map(|(c, v)| (Cow::Borrowed(c.name), v.clone())).collect();
        if with_extras {
            properties.extend(extras_of(row.extras.as_deref()));
        }
        match crate::wkb::decode(&row.wkb) {
            Ok((geometry, _)) => Ok(Feature { id: fid, geometry, properties }),
            Err(e) => Err(StoreError::CorruptGeometry { id: fid, reason: e.to_string() }),
        }
    }
}

/// The source attributes stored as a JSON object, as typed values.
pub fn extras_of(json: Option<&str>) -> Vec<(Cow<'static, str>, Value)> {
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
