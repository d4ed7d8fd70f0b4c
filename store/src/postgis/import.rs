//! Imports into PostGIS, each one transaction on a connection of its own: a replacement
//! is built in a staging table and swapped in (old table dropped, staging renamed, GiST
//! index built, catalogue updated) at commit; an append writes into the layer's table.
//! A failed or killed import ends its connection, so PostgreSQL rolls it all back and
//! every node keeps serving the previous layer.

use super::db::Db;
use super::schema::{self, derived_name, LOCK_LAYER};
use super::store::{read_catalogue, PgStore};
use crate::memory::RowData;
use crate::mercator::to_lonlat;
use crate::model::{coerce, validate_layer_name, ColumnType, Envelope, ImportMode, ImportSpec, LayerInfo, NewFeature, Value};
use crate::raster::{encode_tiff, snap_extent, IMAGERY, NO_DATA, TERRAIN};
use crate::traits;
use crate::StoreError;
use std::sync::Arc;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

/// Rows sent per INSERT (one statement over arrays: far fewer round trips than one
/// statement per row).
const BATCH: usize = 2000;

/// The moment an import commits, as the catalogue records it (ms: nodes tell re-imports
/// apart by it).
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Writes (or replaces) a layer's catalogue entry; parameters: name, kind, source,
/// source CRS, import time, count, has z, details, extent (4 × nullable lon/lat).
const CATALOGUE_UPSERT: &str = "INSERT INTO formosa_layers (name, kind, source, source_crs, imported_at, feature_count, has_z, details, min_x, min_y, max_x, max_y)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, source = EXCLUDED.source, source_crs = EXCLUDED.source_crs,
       imported_at = EXCLUDED.imported_at, feature_count = EXCLUDED.feature_count, has_z = EXCLUDED.has_z,
       details = EXCLUDED.details, min_x = EXCLUDED.min_x, min_y = EXCLUDED.min_y, max_x = EXCLUDED.max_x, max_y = EXCLUDED.max_y";

/// Begins the import's transaction and takes layer `name`'s lock: one import (or live
/// edit) of a layer at a time, across every node.
async fn begin_locked(client: &Client, name: &str) -> Result<(), StoreError> {
    client.batch_execute("BEGIN; SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '15s'").await?;
    match client.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&LOCK_LAYER, &name]).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
            Err(StoreError::Schema(format!("layer '{name}' is being imported or edited by another process; try again when it is done")))
        }
        Err(e) => Err(e.into()),
    }
}

/// A feature import in progress.
pub struct PgImport {
    db: Arc<Db>,
    client: Client,
    spec: ImportSpec,
    /// The table rows go into: a staging table (replace) or the layer's own (append).
    table: String,
    appending: bool,
    next_fid: i64,
    count: u64,
    extent: Option<Envelope>,
    /// Rows not sent yet, with their fids.
    pending: Vec<(i64, RowData)>,
}

impl PgStore {
    pub fn begin_import(&self, spec: ImportSpec) -> Result<PgImport, StoreError> {
        validate_layer_name(&spec.layer)?;
        let db = self.inner.primary.clone();
        let mut spec = spec;
        let (client, table, appending, next_fid, count, extent) = db.block_on(async {
            let client = db.dedicated().await?;
            begin_locked(&client, &spec.layer).await?;
            let existing = read_catalogue(&client).await?.into_iter().find(|l| l.name == spec.layer);
            match (spec.mode, existing) {
                (ImportMode::Append, Some(l)) if l.kind == spec.kind.as_str() => {
                    // The catalogue lists every source and CRS that went into the layer.
                    let join = |old: &str, new: &str| if old.split("; ").any(|o| o == new) { old.to_string() } else { format!("{old}; {new}") };
                    spec.source = join(&l.source, &spec.source);
                    spec.source_crs = join(&l.source_crs, &spec.source_crs);
                    spec.has_z |= l.has_z;
                    let max: i64 = client.query_one(&format!("SELECT coalesce(max(fid), 0) FROM \"{}\"", spec.layer), &[]).await?.get(0);
                    Ok((client, spec.layer.clone(), true, max + 1, l.feature_count, l.extent))
                }
                (ImportMode::Append, Some(l)) => Err(StoreError::KindMismatch { layer: spec.layer.clone(), existing: l.kind, requested: spec.kind.to_string() }),
                _ => {
                    let staging = derived_name("new", &spec.layer);
                    client.batch_execute(&format!("DROP TABLE IF EXISTS \"{staging}\"; {}", schema::create_feature_table_sql(&staging, spec.kind))).await?;
                    Ok((client, staging, false, 1, 0, None))
                }
            }
        })?;
        Ok(PgImport { db, client, spec, table, appending, next_fid, count, extent, pending: Vec::new() })
    }
}

impl PgImport {
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let columns = self.spec.kind.columns();
        let rows = std::mem::take(&mut self.pending);
        let fids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let wkbs: Vec<&[u8]> = rows.iter().map(|r| r.1.wkb.as_slice()).collect();
        let extras: Vec<Option<&str>> = rows.iter().map(|r| r.1.extras.as_deref()).collect();
        // One array per column, of the column's own type.
        let arrays: Vec<Box<dyn ToSql + Sync>> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| -> Box<dyn ToSql + Sync> {
                let values = rows.iter().map(|r| coerce(r.1.values[i].clone(), c.ty));
                match c.ty {
                    ColumnType::Text => Box::new(values.map(|v| if let Value::Text(s) = v { Some(s) } else { None }).collect::<Vec<_>>()),
                    ColumnType::Integer => Box::new(values.map(|v| if let Value::Integer(n) = v { Some(n) } else { None }).collect::<Vec<_>>()),
                    ColumnType::Real => Box::new(values.map(|v| if let Value::Real(x) = v { Some(x) } else { None }).collect::<Vec<_>>()),
                }
            })
            .collect();
        let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
        let casts: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ty = match c.ty {
                    ColumnType::Text => "text",
                    ColumnType::Integer => "bigint",
                    ColumnType::Real => "float8",
                };
                format!("${}::{ty}[]", i + 3)
            })
            .collect();
        let aliases: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
        let sql = format!(
            "INSERT INTO \"{}\" (fid, geom, {names}, source_attributes) SELECT u.fid, ST_GeomFromWKB(u.g, 4326), {cols}, u.extras
             FROM unnest($1::bigint[], $2::bytea[], {casts}, ${n}::text[]) AS u(fid, g, {aliases}, extras)",
            self.table,
            names = names.join(", "),
            cols = aliases.iter().map(|a| format!("u.{a}")).collect::<Vec<_>>().join(", "),
            casts = casts.join(", "),
            n = columns.len() + 3,
            aliases = aliases.join(", "),
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&fids, &wkbs];
        params.extend(arrays.iter().map(|a| a.as_ref()));
        params.push(&extras);
        let client = &self.client;
        self.db.block_on(async { client.execute(sql.as_str(), &params).await })?;
        Ok(())
    }

    fn finish(&mut self, details: serde_json::Value) -> Result<LayerInfo, StoreError> {
        self.flush()?;
        let spec = &self.spec;
        let name = spec.layer.clone();
        let client = &self.client;
        let e = self.extent;
        let swap = (!self.appending).then(|| schema::swap_in_sql(&self.table, &name, true));
        let count = self.count as i64;
        self.db.block_on(async {
            if let Some(sql) = swap {
                client.batch_execute(&sql).await?;
            }
            client
                .execute(
                    CATALOGUE_UPSERT,
                    &[
                        &name,
                        &spec.kind.as_str(),
                        &spec.source,
                        &spec.source_crs,
                        &now(),
                        &count,
                        &spec.has_z,
                        &details.to_string(),
                        &e.map(|e| e.min_x),
                        &e.map(|e| e.min_y),
                        &e.map(|e| e.max_x),
                        &e.map(|e| e.max_y),
                    ],
                )
                .await?;
            client.batch_execute("COMMIT").await?;
            Ok::<_, StoreError>(())
        })?;
        let info = self.db.block_on(read_catalogue(client))?.into_iter().find(|l| l.name == name).expect("layer just committed");
        Ok(info)
    }
}

impl traits::FeatureImport for PgImport {
    fn insert(&mut self, f: &NewFeature) -> Result<i64, StoreError> {
        let (env, extra) = f.checked_for_import(self.spec.kind)?;
        let fid = self.next_fid;
        self.pending.push((fid, RowData { wkb: crate::wkb::encode(&f.geometry, self.spec.has_z), values: f.values.clone(), extras: extra }));
        self.next_fid += 1;
        self.count += 1;
        self.extent = Some(self.extent.map_or(env, |e| e.union(env)));
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(fid)
    }

    fn count(&self) -> u64 {
        self.count
    }

    fn commit(mut self: Box<Self>, details: serde_json::Value) -> Result<LayerInfo, StoreError> {
        self.finish(details)
    }

    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        // Dropping the connection ends the transaction: PostgreSQL rolls it back.
        Ok(())
    }
}

/// A tile pyramid (the elevation pyramid or an imagery layer) being written into a
/// staging table, swapped in at commit.
pub struct PgPyramidImport {
    db: Arc<Db>,
    client: Client,
    name: String,
    kind: &'static str,
    staging: String,
    extent_m: Envelope,
    max_zoom: u8,
    tiles: u64,
}

impl PgStore {
    fn begin_pyramid(&self, name: &str, kind: &'static str, extent_m: Envelope, max_zoom: u8) -> Result<PgPyramidImport, StoreError> {
        let db = self.inner.primary.clone();
        let staging = derived_name("new", name);
        let client = db.block_on(async {
            let client = db.dedicated().await?;
            begin_locked(&client, name).await?;
            if let Some(existing) = read_catalogue(&client).await?.into_iter().find(|l| l.name == name && l.kind != kind) {
                return Err(StoreError::KindMismatch { layer: name.into(), existing: existing.kind, requested: kind.into() });
            }
            client.batch_execute(&format!("DROP TABLE IF EXISTS \"{staging}\"; {}", schema::create_pyramid_table_sql(&staging))).await?;
            Ok(client)
        })?;
        Ok(PgPyramidImport { db, client, name: name.into(), kind, staging, extent_m: snap_extent(extent_m, max_zoom), max_zoom, tiles: 0 })
    }

    pub fn begin_terrain_import(&self, extent_m: Envelope, max_zoom: u8) -> Result<PgPyramidImport, StoreError> {
        self.begin_pyramid(TERRAIN, TERRAIN, extent_m, max_zoom)
    }

    pub fn begin_imagery_import(&self, name: &str, extent_m: Envelope, max_zoom: u8) -> Result<PgPyramidImport, StoreError> {
        validate_layer_name(name)?;
        self.begin_pyramid(name, IMAGERY, extent_m, max_zoom)
    }
}

impl PgPyramidImport {
    fn put(&mut self, z: u8, x: u32, y: u32, data: &[u8]) -> Result<(), StoreError> {
        if z > self.max_zoom {
            return Err(StoreError::Schema(format!("zoom {z} is beyond the pyramid's {}", self.max_zoom)));
        }
        let sql = format!("INSERT INTO \"{}\" (z, x, y, data) VALUES ($1, $2, $3, $4)", self.staging);
        let client = &self.client;
        self.db.block_on(async { client.execute(sql.as_str(), &[&(z as i16), &(x as i32), &(y as i32), &data]).await })?;
        self.tiles += 1;
        Ok(())
    }

    fn get(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT data FROM \"{}\" WHERE z = $1 AND x = $2 AND y = $3", self.staging);
        let client = &self.client;
        Ok(self.db.block_on(async { client.query_opt(sql.as_str(), &[&(z as i16), &(x as i32), &(y as i32)]).await })?.map(|r| r.get(0)))
    }

    fn finish(&mut self, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        let mut details = details;
        if let serde_json::Value::Object(m) = &mut details {
            m.insert("max_zoom".into(), self.max_zoom.into());
            m.insert("extent_3857".into(), serde_json::to_value(self.extent_m).unwrap_or_default());
        }
        let e = self.extent_m;
        let (min_x, min_y) = to_lonlat(e.min_x, e.min_y);
        let (max_x, max_y) = to_lonlat(e.max_x, e.max_y);
        let swap = schema::swap_in_sql(&self.staging, &self.name, false);
        let client = &self.client;
        let (name, kind, tiles) = (&self.name, self.kind, self.tiles as i64);
        self.db.block_on(async {
            client.batch_execute(&swap).await?;
            client
                .execute(CATALOGUE_UPSERT, &[name, &kind, &source, &source_crs, &now(), &tiles, &(kind == TERRAIN), &details.to_string(), &min_x, &min_y, &max_x, &max_y])
                .await?;
            client.batch_execute("COMMIT").await?;
            Ok(())
        })
    }
}

impl traits::TerrainImport for PgPyramidImport {
    fn put_tile(&mut self, z: u8, x: u32, y: u32, heights: &[f32]) -> Result<bool, StoreError> {
        if heights.iter().all(|h| *h == NO_DATA) {
            return Ok(false);
        }
        self.put(z, x, y, &encode_tiff(heights)?)?;
        Ok(true)
    }
    fn tile_count(&self) -> u64 {
        self.tiles
    }
    fn commit(mut self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        self.finish(source, source_crs, details)
    }
}

impl traits::ImageryImport for PgPyramidImport {
    fn put_tile(&mut self, z: u8, x: u32, y: u32, encoded: &[u8]) -> Result<(), StoreError> {
        self.put(z, x, y, encoded)
    }
    fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(z, x, y)
    }
    fn tile_count(&self) -> u64 {
        self.tiles
    }
    fn commit(mut self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        self.finish(source, source_crs, details)
    }
}
