//! The PostGIS store: the shared store of many stateless Formosa nodes. Each node holds
//! the catalogue, the layers' spatial indexes and (for servers) their rows in memory, as
//! the embedded store does; PostgreSQL is the durable truth every node reads and writes.
//! Reads may go to a streaming replica; edits and the change feed always go to the
//! primary (see `feed.rs`).

use super::db::Db;
use super::feed::Feed;
use super::layer::{read_envelopes, PgLayer};
use super::reads::Reads;
use super::schema;
use crate::memory::index::SpatialIndex;
use crate::model::{Envelope, LayerInfo};
use crate::StoreError;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A store in a PostgreSQL database with PostGIS.
pub struct PgStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub primary: Arc<Db>,
    /// Where catalogue, index, rows and tiles are read: a replica, or the primary.
    pub reader: Arc<Db>,
    /// Row reads that must include this node's applied changes (replica or primary).
    pub reads: Arc<Reads>,
    pub layers: RwLock<BTreeMap<String, Arc<PgLayer>>>,
    pub feed: Feed,
}

/// What one consistent read of the catalogue found: the layers, and the newest change
/// they include (so the feed goes on from exactly there).
struct Snapshot {
    layers: Vec<(LayerInfo, Vec<(i64, Envelope)>)>,
    last_seq: i64,
}

impl PgStore {
    /// Opens the store in the database at `url` (creating its catalogue tables and the
    /// PostGIS extension if needed); `read_url` sends reads to a streaming replica.
    pub fn open(url: &str, read_url: Option<&str>) -> Result<PgStore, StoreError> {
        let primary = Arc::new(Db::connect(url)?);
        primary.with(async |c| {
            // One node at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
            c.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({}, 0); {} COMMIT;", schema::LOCK_SCHEMA, schema::CREATE_SCHEMA)).await?;
            Ok(())
        })?;
        let reader = match read_url {
            Some(r) => Arc::new(Db::connect(r)?),
            None => primary.clone(),
        };
        let reads = Arc::new(Reads::new(primary.clone(), reader.clone()));
        let inner = Arc::new(Inner { primary, reader, reads, layers: RwLock::new(BTreeMap::new()), feed: Feed::default() });
        let snapshot = inner.read_snapshot(None)?;
        inner.feed.start_at(snapshot.last_seq);
        *inner.layers.write().unwrap() = snapshot.layers.into_iter().map(|(info, env)| (info.name.clone(), inner.new_layer(info, env))).collect();
        let (weak, trouble) = (Arc::downgrade(&inner), Arc::downgrade(&inner));
        inner.feed.follow(
            &inner.primary,
            move || weak.upgrade().map(|inner| inner.catch_up(None)),
            move |t| {
                if let Some(inner) = trouble.upgrade() {
                    inner.feed.set_trouble(t);
                }
            },
        );
        Ok(PgStore { inner })
    }

    pub fn location(&self) -> String {
        if Arc::ptr_eq(&self.inner.primary, &self.inner.reader) {
            self.inner.primary.location.clone()
        } else {
            format!("{} (reads from {})", self.inner.primary.location, self.inner.reader.location)
        }
    }

    /// The database's size on disk in bytes (every table, not only Formosa's).
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        self.inner.primary.with(async |c| Ok(c.query_one("SELECT pg_database_size(current_database())", &[]).await?.get::<_, i64>(0) as u64))
    }

    pub fn layer(&self, name: &str) -> Option<Arc<PgLayer>> {
        self.inner.layers.read().unwrap().get(name).cloned()
    }

    pub fn layers(&self) -> Vec<Arc<PgLayer>> {
        self.inner.layers.read().unwrap().values().cloned().collect()
    }

    /// Picks up what other processes committed (imports, replacements, removals): changed
    /// layers get a new index (read in one snapshot with the change log's position, then
    /// brought up to the feed), unchanged ones keep theirs and their rows.
    pub fn refresh(&self) -> Result<Vec<String>, StoreError> {
        let infos = self.inner.reader.with(async |c| read_catalogue(c).await)?;
        let current = self.inner.layers.read().unwrap().clone();
        let mut changed: Vec<String> = current.keys().filter(|n| !infos.iter().any(|i| &i.name == *n)).cloned().collect();
        let stale: Vec<String> =
            infos.iter().filter(|i| current.get(&i.name).is_none_or(|l| l.info.imported_at != i.imported_at || l.info.kind != i.kind)).map(|i| i.name.clone()).collect();
        if changed.is_empty() && stale.is_empty() {
            return Ok(changed);
        }
        let snapshot = self.inner.read_snapshot(Some(&stale))?;
        let mut next: BTreeMap<String, Arc<PgLayer>> = current.into_iter().filter(|(n, _)| infos.iter().any(|i| &i.name == n) && !stale.contains(n)).collect();
        let fresh: Vec<Arc<PgLayer>> = snapshot.layers.into_iter().map(|(info, env)| self.inner.new_layer(info, env)).collect();
        for layer in &fresh {
            changed.push(layer.info.name.clone());
            next.insert(layer.info.name.clone(), layer.clone());
        }
        *self.inner.layers.write().unwrap() = next;
        // The new layers were read as of `last_seq`; edits the feed applied since then
        // must be applied to them too.
        for layer in &fresh {
            self.inner.replay_since(layer, snapshot.last_seq)?;
        }
        Ok(changed)
    }

    /// Reads feature layer `name`'s rows into memory, then applies the edits the feed saw
    /// after the read's snapshot.
    pub fn keep_rows_in_memory(&self, name: &str) -> Result<(usize, usize), StoreError> {
        let layer = self.layer(name).filter(|l| l.info.feature_kind().is_some()).ok_or_else(|| StoreError::UnknownLayer(name.into()))?;
        let before = self.inner.reader.with(async |c| last_seq(c).await)?;
        let stats = layer.load_rows()?;
        self.inner.replay_since(&layer, before)?;
        Ok(stats)
    }

    /// The encoded tile at (z, x, y) of pyramid `table`, if it has one there.
    pub fn pyramid_tile(&self, table: &str, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        if self.layer(table).is_none() {
            return Ok(None);
        }
        let sql = format!("SELECT data FROM \"{table}\" WHERE z = $1 AND x = $2 AND y = $3");
        self.inner.reader.with(async |c| Ok(c.query_opt(sql.as_str(), &[&(z as i16), &(x as i32), &(y as i32)]).await?.map(|r| r.get(0))))
    }
}

impl Inner {
    pub(crate) fn new_layer(&self, info: LayerInfo, envelopes: Vec<(i64, Envelope)>) -> Arc<PgLayer> {
        Arc::new(PgLayer::new(info, SpatialIndex::bulk_load(envelopes), self.reads.clone()))
    }

    /// The catalogue and the envelopes of its feature layers (all, or those in `only`),
    /// with the change log's newest seq, in one snapshot of the reader.
    fn read_snapshot(&self, only: Option<&[String]>) -> Result<Snapshot, StoreError> {
        self.reader.block_on(async {
            let mut client = self.reader.dedicated().await?;
            let tx = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).read_only(true).start().await?;
            let infos = read_catalogue(&tx).await?;
            let last_seq = last_seq(&tx).await?;
            let mut layers = Vec::new();
            for info in infos.into_iter().filter(|i| only.is_none_or(|o| o.contains(&i.name))) {
                let envelopes = if info.feature_kind().is_some() { read_envelopes(&tx, &info.name).await? } else { Vec::new() };
                layers.push((info, envelopes));
            }
            tx.commit().await?;
            Ok(Snapshot { layers, last_seq })
        })
    }
}

async fn last_seq(c: &impl tokio_postgres::GenericClient) -> Result<i64, StoreError> {
    Ok(c.query_one("SELECT coalesce(max(seq), 0) FROM formosa_changes", &[]).await?.get(0))
}

/// Every catalogue entry, by name.
pub(crate) async fn read_catalogue(c: &impl tokio_postgres::GenericClient) -> Result<Vec<LayerInfo>, StoreError> {
    let rows =
        c.query("SELECT name, kind, source, source_crs, imported_at, feature_count, has_z, details, min_x, min_y, max_x, max_y FROM formosa_layers ORDER BY name", &[]).await?;
    rows.iter()
        .map(|r| {
            let details: serde_json::Value = serde_json::from_str(r.try_get::<_, &str>(7)?).unwrap_or(serde_json::Value::Null);
            let extent = match (r.try_get(8)?, r.try_get(9)?, r.try_get(10)?, r.try_get(11)?) {
                (Some(min_x), Some(min_y), Some(max_x), Some(max_y)) => Some(Envelope { min_x, min_y, max_x, max_y }),
                _ => None,
            };
            let max_zoom = details.get("max_zoom").and_then(|z| z.as_u64()).and_then(|z| u8::try_from(z).ok());
            Ok(LayerInfo {
                name: r.try_get(0)?,
                kind: r.try_get(1)?,
                source: r.try_get(2)?,
                source_crs: r.try_get(3)?,
                imported_at: r.try_get(4)?,
                feature_count: r.try_get::<_, i64>(5)? as u64,
                has_z: r.try_get(6)?,
                details,
                extent,
                max_zoom,
            })
        })
        .collect()
}
