//! A PostGIS feature layer as a serving process holds it: the catalogue entry, the
//! spatial index and (once loaded) the rows in memory ([`Resident`]); what is not held is
//! read from the layer's table, one round trip per call.

use super::reads::Reads;
use super::schema::select_columns;
use crate::memory::index::SpatialIndex;
use crate::memory::rows::{extras_of, FeatureTable};
use crate::memory::{column_position, Resident, RowData};
use crate::model::{Attributes, ColumnType, Envelope, Feature, LayerInfo, LayerKind, Value};
use crate::traits::FeatureLayer;
use crate::StoreError;
use futures_util::{pin_mut, TryStreamExt};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_postgres::Row;

pub struct PgLayer {
    pub info: LayerInfo,
    pub(crate) resident: Resident,
    reads: Arc<Reads>,
}

/// A column's value as PostgreSQL returns it.
pub(crate) fn value_at(row: &Row, i: usize, ty: ColumnType) -> Result<Value, tokio_postgres::Error> {
    Ok(match ty {
        ColumnType::Text => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
        ColumnType::Integer => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Integer),
        ColumnType::Real => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
    })
}

/// A row selected with [`select_columns`] as the store's row data.
pub(crate) fn row_data(row: &Row, kind: LayerKind) -> Result<(i64, RowData), StoreError> {
    let n = kind.columns().len();
    let values = kind.columns().iter().enumerate().map(|(i, c)| value_at(row, 2 + i, c.ty)).collect::<Result<Vec<_>, _>>()?;
    let extras = if row.len() > 2 + n { row.try_get::<_, Option<String>>(2 + n)? } else { None };
    Ok((row.try_get(0)?, RowData { wkb: row.try_get(1)?, values, extras }))
}

fn to_feature(fid: i64, r: RowData, kind: LayerKind) -> Result<Feature, StoreError> {
    let (geometry, _) = crate::wkb::decode(&r.wkb).map_err(|e| StoreError::CorruptGeometry { id: fid, reason: e.to_string() })?;
    let mut properties: Vec<(Cow<'static, str>, Value)> = kind.columns().iter().zip(r.values).map(|(c, v)| (Cow::Borrowed(c.name), v)).collect();
    properties.extend(extras_of(r.extras.as_deref()));
    Ok(Feature { id: fid, geometry, properties })
}

/// Every feature's envelope in `table`, for the in-memory index.
pub(crate) async fn read_envelopes(client: &impl tokio_postgres::GenericClient, table: &str) -> Result<Vec<(i64, Envelope)>, StoreError> {
    // Box2D is float4 and rounded outward for all but points (ENVELOPE_ROUNDING_DEG).
    let sql = format!("SELECT fid, ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT fid, Box2D(geom) AS b FROM \"{table}\") AS boxes");
    let rows = client.query_raw(sql.as_str(), std::iter::empty::<i64>()).await?;
    pin_mut!(rows);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push((r.try_get(0)?, Envelope { min_x: r.try_get(1)?, min_y: r.try_get(2)?, max_x: r.try_get(3)?, max_y: r.try_get(4)? }));
    }
    Ok(out)
}

impl PgLayer {
    pub(crate) fn new(info: LayerInfo, index: SpatialIndex, reads: Arc<Reads>) -> PgLayer {
        PgLayer { info, resident: Resident::new(index), reads }
    }

    fn kind_or_err(&self) -> Result<LayerKind, StoreError> {
        self.info.feature_kind().ok_or_else(|| StoreError::UnknownLayer(self.info.name.clone()))
    }

    /// Reads every row into memory (see [`crate::Serving::keep_rows_in_memory`]).
    pub(crate) fn load_rows(&self) -> Result<(usize, usize), StoreError> {
        let kind = self.kind_or_err()?;
        let sql = format!("SELECT {} FROM \"{}\" ORDER BY fid", select_columns(kind, true), self.info.name);
        self.resident.load_rows(|| {
            // Whole-table reads are not bounded by the per-call timeout: a national layer
            // takes longer than a tile.
            let db = &self.reads.reader;
            db.block_on(async {
                let client = db.dedicated().await?;
                let rows = client.query_raw(sql.as_str(), std::iter::empty::<i64>()).await?;
                pin_mut!(rows);
                let mut table = FeatureTable::new(kind);
                while let Some(r) = rows.try_next().await? {
                    let (fid, d) = row_data(&r, kind)?;
                    table.put(fid, d.wkb, d.values, d.extras);
                }
                Ok(table)
            })
        })
    }
}

impl FeatureLayer for PgLayer {
    fn info(&self) -> &LayerInfo {
        &self.info
    }

    fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)> {
        self.resident.query_envelopes(bbox)
    }

    fn query(&self, bbox: &Envelope) -> Vec<i64> {
        self.resident.query(bbox)
    }

    fn count(&self, bbox: &Envelope) -> usize {
        self.resident.count(bbox)
    }

    fn features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<Feature>, StoreError> {
        let kind = self.kind_or_err()?;
        if let Some(found) = self.resident.features(ids, attributes) {
            return found;
        }
        let sql = format!("SELECT {} FROM \"{}\" WHERE fid = ANY($1)", select_columns(kind, attributes == Attributes::All), self.info.name);
        let ids_vec = ids.to_vec();
        let mut by_id: HashMap<i64, RowData> = self.reads.db().with(async |c| {
            let rows = c.query(sql.as_str(), &[&ids_vec]).await?;
            rows.iter().map(|r| row_data(r, kind)).collect()
        })?;
        ids.iter().filter_map(|id| by_id.remove(id).map(|d| to_feature(*id, d, kind))).collect()
    }

    fn labelled_features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<crate::labels::Labelled>, StoreError> {
        match self.resident.labelled_features(ids, attributes) {
            Some(found) => found,
            None => Ok(crate::labels::with_labels(self.features(ids, attributes)?)),
        }
    }

    fn column(&self, ids: &[i64], column: &str) -> Result<Vec<Value>, StoreError> {
        let kind = self.kind_or_err()?;
        let col = column_position(kind, &self.info.name, column)?;
        if let Some(values) = self.resident.column(ids, col) {
            return Ok(values);
        }
        let ty = kind.columns()[col].ty;
        let sql = format!("SELECT fid, \"{column}\" FROM \"{}\" WHERE fid = ANY($1)", self.info.name);
        let ids_vec = ids.to_vec();
        let by_id: HashMap<i64, Value> = self.reads.db().with(async |c| {
            let rows = c.query(sql.as_str(), &[&ids_vec]).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, value_at(r, 1, ty)?))).collect::<Result<_, StoreError>>()
        })?;
        Ok(ids.iter().map(|id| by_id.get(id).cloned().unwrap_or(Value::Null)).collect())
    }

    fn len(&self) -> usize {
        self.resident.len()
    }
}
