//! The store: one GeoPackage file per deployment. Opening it loads every layer's spatial
//! index into memory; imports write inside one SQLite transaction and become visible
//! all at once at commit, so a crash at any moment leaves the previous contents intact.

use super::geometry_blob;
use super::schema as gpkg;
use crate::memory::index::SpatialIndex;
use crate::memory::rows::{extras_of, FeatureTable};
use crate::memory::{column_position, Resident};
use crate::model::{validate_layer_name, Attributes, Envelope, Feature, ImportMode, ImportSpec, LayerInfo, LayerKind, NewFeature, Value};
use crate::traits::ChangeListener;
use crate::StoreError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// The store file's read connections, opened on demand and reused.
pub(crate) struct Pool {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
}

impl Pool {
    /// Runs `f` with a pooled connection (opened on demand, returned afterwards).
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.readers.lock().unwrap().pop();
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.path, false)?,
        };
        let out = f(&conn);
        self.readers.lock().unwrap().push(conn);
        out
    }
}

/// A layer as the server sees it: its catalogue entry (as of the last import or reload),
/// its spatial index and, once [`GpkgStore::load_feature_table`] has run for it, its rows
/// in memory. Live edits ([`GpkgStore::edit`]) update the index and the rows.
pub struct GpkgLayer {
    pub info: LayerInfo,
    pub(crate) resident: Resident,
    pool: Arc<Pool>,
}

impl GpkgLayer {
    fn new(info: LayerInfo, index: SpatialIndex, pool: Arc<Pool>) -> GpkgLayer {
        GpkgLayer { info, resident: Resident::new(index), pool }
    }

    /// Whether the rows are in memory.
    pub fn has_feature_table(&self) -> bool {
        self.resident.has_rows()
    }

    /// Ids of the features whose envelope intersects `bbox`.
    pub fn query(&self, bbox: &Envelope) -> Vec<i64> {
        self.resident.query(bbox)
    }

    /// Like [`GpkgLayer::query`], with each hit's envelope.
    pub fn query_envelopes(&self, bbox: &Envelope) -> Vec<(i64, Envelope)> {
        self.resident.query_envelopes(bbox)
    }

    /// Features currently indexed (imports and live edits).
    pub fn len(&self) -> usize {
        self.resident.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> Result<LayerKind, StoreError> {
        self.info.feature_kind().ok_or_else(|| StoreError::UnknownLayer(self.info.name.clone()))
    }

    /// Reads features by id; ids that do not exist are left out. From the layer's
    /// in-memory table when it is loaded, else from SQLite.
    pub fn features(&self, ids: &[i64], attributes: Attributes) -> Result<Vec<Feature>, StoreError> {
        let kind = self.kind()?;
        if let Some(found) = self.resident.features(ids, attributes) {
            return found;
        }
        let layer = &self.info.name;
        self.pool.with_conn(|conn| {
            let mut cols: Vec<String> = kind.columns().iter().map(|c| format!("\"{}\"", c.name)).collect();
            if attributes == Attributes::All {
                cols.push("source_attributes".into());
            }
            let sql = format!("SELECT fid, geom, {} FROM \"{layer}\" WHERE fid = ?1", cols.join(", "));
            // One read transaction for the batch: one snapshot, and one shared lock taken
            // instead of one per row (per-row locking was a tenth of a z15 tile's time).
            let snapshot = conn.unchecked_transaction()?;
            let mut stmt = snapshot.prepare_cached(&sql)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(f) = stmt.query_row([id], |r| row_to_feature(r, kind, attributes)).optional()? {
                    out.push(f?);
                }
            }
            Ok(out)
        })
    }

    /// One column's values for these fids, in order (`Null` where there is no such row):
    /// what clustering reads from thousands of rows, without building whole features.
    pub fn column(&self, ids: &[i64], column: &str) -> Result<Vec<Value>, StoreError> {
        let kind = self.kind()?;
        let layer = &self.info.name;
        let col = column_position(kind, layer, column)?;
        if let Some(values) = self.resident.column(ids, col) {
            return Ok(values);
        }
        self.pool.with_conn(|conn| {
            let snapshot = conn.unchecked_transaction()?;
            let mut stmt = snapshot.prepare_cached(&format!("SELECT \"{column}\" FROM \"{layer}\" WHERE fid = ?1"))?;
            ids.iter().map(|id| Ok(stmt.query_row([id], |r| Ok(value_of(r.get_ref(0).ok()))).optional()?.unwrap_or(Value::Null))).collect()
        })
    }
}

/// The embedded store: one GeoPackage file.
pub struct GpkgStore {
    pool: Arc<Pool>,
    /// The live-edit connection (synchronous = FULL), opened on the first edit.
    pub(crate) writer: Mutex<Option<Connection>>,
    layers: RwLock<BTreeMap<String, Arc<GpkgLayer>>>,
    /// Told of every committed live edit.
    pub(crate) listeners: RwLock<Vec<ChangeListener>>,
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::open(path, e))?;
    if read_only {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        gpkg::register_functions(&conn)?;
    } else {
        gpkg::configure(&conn).map_err(|e| StoreError::open(path, e))?;
    }
    Ok(conn)
}

/// Values bind as their SQLite type (used by imports and live edits alike).
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Integer(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(r) => ToSqlOutput::Borrowed(ValueRef::Real(*r)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl GpkgStore {
    /// Opens the store at `path`, creating an empty GeoPackage if there is none, and loads
    /// every layer's spatial index.
    pub fn open(path: impl AsRef<Path>) -> Result<GpkgStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = open_connection(&path, false)?;
        let is_gpkg: bool = {
            let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(|e| StoreError::open(&path, e))?;
            let app: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
            tables == 0 || app == 0x4750_4B47
        };
        if !is_gpkg {
            return Err(StoreError::NotAStore(path));
        }
        gpkg::ensure_schema(&conn)?;
        let pool = Arc::new(Pool { path, readers: Mutex::new(vec![conn]) });
        let store = GpkgStore { pool, writer: Mutex::new(None), layers: RwLock::new(BTreeMap::new()), listeners: RwLock::default() };
        store.reload()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.pool.path
    }

    /// Runs `f` with a pooled connection (opened on demand, returned afterwards).
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.pool.with_conn(f)
    }

    /// Re-reads the catalogue and rebuilds every layer's index.
    pub fn reload(&self) -> Result<(), StoreError> {
        let infos = self.with_conn(read_catalogue)?;
        let mut layers = BTreeMap::new();
        for info in infos {
            let layer = self.load_layer(info)?;
            layers.insert(layer.info.name.clone(), Arc::new(layer));
        }
        *self.layers.write().unwrap() = layers;
        Ok(())
    }

    /// Picks up what other processes committed (imports, replacements, removals) since
    /// the last look, layer by layer: changed layers get a new index, unchanged ones keep
    /// theirs (and their rows in memory). Readers holding a layer finish on it. Returns
    /// the names of the layers that changed.
    pub fn refresh(&self) -> Result<Vec<String>, StoreError> {
        let infos = self.with_conn(read_catalogue)?;
        let current = self.layers.read().unwrap().clone();
        let mut changed: Vec<String> = current.keys().filter(|n| !infos.iter().any(|i| &i.name == *n)).cloned().collect();
        let mut next = BTreeMap::new();
        for info in infos {
            match current.get(&info.name) {
                Some(l) if l.info.imported_at == info.imported_at && l.info.kind == info.kind => {
                    next.insert(info.name.clone(), l.clone());
                }
                _ => {
                    changed.push(info.name.clone());
                    let layer = self.load_layer(info)?;
                    next.insert(layer.info.name.clone(), Arc::new(layer));
                }
            }
        }
        if !changed.is_empty() {
            *self.layers.write().unwrap() = next;
        }
        Ok(changed)
    }

    fn load_layer(&self, info: LayerInfo) -> Result<GpkgLayer, StoreError> {
        if info.feature_kind().is_none() {
            return Ok(GpkgLayer::new(info, SpatialIndex::default(), self.pool.clone()));
        }
        let entries = self.with_conn(|conn| {
            let sql = format!("SELECT id, minx, miny, maxx, maxy FROM \"{}\"", gpkg::rtree_name(&info.name));
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, Envelope { min_x: r.get(1)?, min_y: r.get(2)?, max_x: r.get(3)?, max_y: r.get(4)? })))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        Ok(GpkgLayer::new(info, SpatialIndex::bulk_load(entries), self.pool.clone()))
    }

    /// All layers (feature layers and terrain), by name.
    pub fn layers(&self) -> Vec<Arc<GpkgLayer>> {
        self.layers.read().unwrap().values().cloned().collect()
    }

    pub fn layer(&self, name: &str) -> Option<Arc<GpkgLayer>> {
        self.layers.read().unwrap().get(name).cloned()
    }

    pub(crate) fn feature_layer(&self, name: &str) -> Result<(Arc<GpkgLayer>, LayerKind), StoreError> {
        let layer = self.layer(name).ok_or_else(|| StoreError::UnknownLayer(name.to_string()))?;
        let kind = layer.info.feature_kind().ok_or_else(|| StoreError::UnknownLayer(name.to_string()))?;
        Ok((layer, kind))
    }

    /// Ids of the features of `layer` whose envelope intersects `bbox` (lon/lat).
    pub fn query_ids(&self, layer: &str, bbox: &Envelope) -> Result<Vec<i64>, StoreError> {
        let (layer, _) = self.feature_layer(layer)?;
        Ok(layer.query(bbox))
    }

    /// Reads features of `layer` by id (see [`GpkgLayer::features`]).
    pub fn features(&self, layer: &str, ids: &[i64], attributes: Attributes) -> Result<Vec<Feature>, StoreError> {
        self.feature_layer(layer)?.0.features(ids, attributes)
    }

    /// One column's values of `layer` for these fids (see [`GpkgLayer::column`]).
    pub fn column(&self, layer: &str, ids: &[i64], column: &str) -> Result<Vec<Value>, StoreError> {
        self.feature_layer(layer)?.0.column(ids, column)
    }

    /// Reads every row of feature layer `name` into memory, so that [`GpkgStore::features`]
    /// stops going to SQLite for it. For servers: it costs about the layer's size on disk
    /// in RAM. Returns the table's row count and approximate bytes; a layer that was
    /// replaced meanwhile (by [`GpkgStore::reload`]) is left for its successor to load.
    pub fn load_feature_table(&self, name: &str) -> Result<(usize, usize), StoreError> {
        let (layer, kind) = self.feature_layer(name)?;
        layer.resident.load_rows(|| self.with_conn(|conn| load_rows(conn, name, kind)))
    }

    pub fn feature(&self, layer: &str, id: i64) -> Result<Option<Feature>, StoreError> {
        Ok(self.features(layer, &[id], Attributes::All)?.pop())
    }

    /// Starts an import into `spec.layer`. Nothing is visible to readers until
    /// [`GpkgImport::commit`]; dropping the import (or a crash) rolls it back.
    pub fn begin_import(&self, spec: ImportSpec) -> Result<GpkgImport, StoreError> {
        validate_layer_name(&spec.layer)?;
        let conn = open_connection(self.path(), false)?;
        GpkgImport::begin(conn, spec)
    }

    /// Opens a separate write connection (for the terrain writer).
    pub(crate) fn write_connection(&self) -> Result<Connection, StoreError> {
        open_connection(self.path(), false)
    }

    pub(crate) fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.with_conn(f)
    }

    /// Folds the write-ahead log into the file and empties it (`wal_checkpoint(TRUNCATE)`),
    /// so the file alone is the whole store (a copy of just the .gpkg is complete). Taken
    /// with the live-edit writer held, after any edit under way. With a reader open
    /// elsewhere (an `ogrinfo`), SQLite checkpoints what it can and leaves the rest in the
    /// log, where the next open finds it: nothing is lost either way.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // Not kept as the writer: that one is set up for edits (synchronous = FULL).
        let own;
        let conn = match writer.as_ref() {
            Some(c) => c,
            None => {
                own = open_connection(self.path(), false)?;
                &own
            }
        };
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Size of the store file in bytes (with its write-ahead log).
    pub fn file_size(&self) -> u64 {
        let path = self.path();
        let wal = path.with_extension(format!("{}-wal", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
        [path.to_path_buf(), wal].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }
}

fn read_catalogue(conn: &Connection) -> Result<Vec<LayerInfo>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT l.name, l.kind, l.source, l.source_crs, l.imported_at, l.feature_count, l.has_z, l.details,
                c.min_x, c.min_y, c.max_x, c.max_y
         FROM formosa_layers l LEFT JOIN gpkg_contents c ON c.table_name = l.name ORDER BY l.name",
    )?;
    let rows = stmt.query_map([], |r| {
        let details: String = r.get(7)?;
        let extent = match (r.get::<_, Option<f64>>(8)?, r.get::<_, Option<f64>>(9)?, r.get::<_, Option<f64>>(10)?, r.get::<_, Option<f64>>(11)?) {
            (Some(min_x), Some(min_y), Some(max_x), Some(max_y)) => Some(Envelope { min_x, min_y, max_x, max_y }),
            _ => None,
        };
        let kind: String = r.get(1)?;
        let details: serde_json::Value = serde_json::from_str(&details).unwrap_or(serde_json::Value::Null);
        // Tile pyramids note their deepest zoom in their details (see pyramid.rs).
        let max_zoom = details.get("max_zoom").and_then(|z| z.as_u64()).and_then(|z| u8::try_from(z).ok());
        // Tile pyramids' extents are kept in EPSG:3857 (their tile matrix set's CRS).
        let extent = if kind == "terrain" || kind == "imagery" {
            extent.map(|e| {
                let (min_x, min_y) = crate::mercator::to_lonlat(e.min_x, e.min_y);
                let (max_x, max_y) = crate::mercator::to_lonlat(e.max_x, e.max_y);
                Envelope { min_x, min_y, max_x, max_y }
            })
        } else {
            extent
        };
        Ok(LayerInfo {
            name: r.get(0)?,
            kind,
            source: r.get(2)?,
            source_crs: r.get(3)?,
            imported_at: r.get(4)?,
            feature_count: r.get::<_, i64>(5)? as u64,
            has_z: r.get::<_, i64>(6)? != 0,
            details,
            extent,
            max_zoom,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Reads every row of feature table `table` in fid order.
fn load_rows(conn: &Connection, table: &str, kind: LayerKind) -> Result<FeatureTable, StoreError> {
    let cols: Vec<String> = kind.columns().iter().map(|c| format!("\"{}\"", c.name)).collect();
    let sql = format!("SELECT fid, geom, {}, source_attributes FROM \"{table}\" ORDER BY fid", cols.join(", "));
    let snapshot = conn.unchecked_transaction()?;
    let mut stmt = snapshot.prepare(&sql)?;
    let mut out = FeatureTable::new(kind);
    let mut rows = stmt.query([])?;
    let n = kind.columns().len();
    while let Some(r) = rows.next()? {
        let fid: i64 = r.get(0)?;
        let blob: Vec<u8> = r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default();
        let wkb = geometry_blob::wkb_part(&blob).map_err(|e| StoreError::CorruptGeometry { id: fid, reason: e.to_string() })?.to_vec();
        let values: Vec<Value> = (0..n).map(|i| value_of(r.get_ref(2 + i).ok())).collect();
        out.put(fid, wkb, values, r.get(2 + n)?);
    }
    Ok(out)
}

/// A column value as SQLite returns it (blobs are not column values).
pub(crate) fn value_of(v: Option<rusqlite::types::ValueRef>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        Some(ValueRef::Integer(n)) => Value::Integer(n),
        Some(ValueRef::Real(x)) => Value::Real(x),
        Some(ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        _ => Value::Null,
    }
}

fn row_to_feature(r: &rusqlite::Row, kind: LayerKind, attributes: Attributes) -> rusqlite::Result<Result<Feature, StoreError>> {
    let id: i64 = r.get(0)?;
    let blob: Vec<u8> = r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default();
    let mut properties: Vec<(Cow<'static, str>, Value)> = kind.columns().iter().enumerate().map(|(i, c)| (Cow::Borrowed(c.name), value_of(r.get_ref(2 + i).ok()))).collect();
    if attributes == Attributes::All {
        let extras: Option<String> = r.get(2 + kind.columns().len())?;
        properties.extend(extras_of(extras.as_deref()));
    }
    Ok(match geometry_blob::decode(&blob) {
        Ok((geometry, _)) => Ok(Feature { id, geometry, properties }),
        Err(e) => Err(StoreError::CorruptGeometry { id, reason: e.to_string() }),
    })
}

/// An import in progress: one open write transaction on its own connection.
pub struct GpkgImport {
    conn: Connection,
    spec: ImportSpec,
    insert_sql: String,
    /// Envelopes of the inserted features, for the R*Tree (filled in bulk at commit on replace).
    entries: Vec<(i64, Envelope)>,
    extent: Option<Envelope>,
    count: u64,
    /// True when adding to an existing layer (its triggers then maintain the R*Tree).
    appending: bool,
    finished: bool,
}

impl GpkgImport {
    fn begin(conn: Connection, spec: ImportSpec) -> Result<GpkgImport, StoreError> {
        // IMMEDIATE: take the write lock now, so a concurrent writer fails fast, not at commit.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut import = GpkgImport { insert_sql: insert_sql(&spec.layer, spec.kind), conn, spec, entries: Vec::new(), extent: None, count: 0, appending: false, finished: false };
        import.prepare_table()?;
        Ok(import)
    }

    fn prepare_table(&mut self) -> Result<(), StoreError> {
        let name = &self.spec.layer;
        let existing: Option<String> = self.conn.query_row("SELECT kind FROM formosa_layers WHERE name = ?1", [name], |r| r.get(0)).optional()?;
        match (self.spec.mode, existing) {
            (ImportMode::Append, Some(kind)) if kind == self.spec.kind.as_str() => {
                // Appending: the existing triggers maintain the R*Tree row by row.
                let (count, has_z, source, crs): (i64, i64, String, String) =
                    self.conn.query_row("SELECT feature_count, has_z, source, source_crs FROM formosa_layers WHERE name = ?1", [name], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?;
                // The catalogue lists every source and CRS that went into the layer.
                let join = |old: &str, new: &str| {
                    if old.split("; ").any(|o| o == new) {
                        old.to_string()
                    } else {
                        format!("{old}; {new}")
                    }
                };
                self.spec.source = join(&source, &self.spec.source);
                self.spec.source_crs = join(&crs, &self.spec.source_crs);
                self.count = count as u64;
                self.appending = true;
                self.spec.has_z |= has_z != 0;
                self.extent = self.conn.query_row("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?1", [name], |r| {
                    Ok(match (r.get::<_, Option<f64>>(0)?, r.get::<_, Option<f64>>(1)?, r.get::<_, Option<f64>>(2)?, r.get::<_, Option<f64>>(3)?) {
                        (Some(a), Some(b), Some(c), Some(d)) => Some(Envelope { min_x: a, min_y: b, max_x: c, max_y: d }),
                        _ => None,
                    })
                })?;
                Ok(())
            }
            (ImportMode::Append, Some(kind)) => Err(StoreError::KindMismatch { layer: name.clone(), existing: kind, requested: self.spec.kind.to_string() }),
            _ => {
                if gpkg::table_exists(&self.conn, name)? {
                    gpkg::drop_layer(&self.conn, name)?;
                }
                self.conn.execute_batch(&gpkg::create_layer_table_sql(name, self.spec.kind))?;
                Ok(())
            }
        }
    }

    /// Writes one feature; returns its id.
    pub fn insert(&mut self, f: &NewFeature) -> Result<i64, StoreError> {
        let (env, extra) = f.checked_for_import(self.spec.kind)?;
        let blob = geometry_blob::encode(&f.geometry, gpkg::SRS_WGS84, self.spec.has_z);
        let mut stmt = self.conn.prepare_cached(&self.insert_sql)?;
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(f.values.len() + 2);
        params.push(&blob);
        for v in &f.values {
            params.push(v);
        }
        params.push(&extra);
        stmt.execute(params.as_slice())?;
        let id = self.conn.last_insert_rowid();
        if !self.appending {
            self.entries.push((id, env));
        }
        self.extent = Some(self.extent.map_or(env, |e| e.union(env)));
        self.count += 1;
        Ok(id)
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Builds the spatial index and the catalogue entries, then commits: from this
    /// moment on, readers see the new contents.
    pub fn commit(mut self, details: serde_json::Value) -> Result<LayerInfo, StoreError> {
        let name = self.spec.layer.clone();
        let rtree = gpkg::rtree_name(&name);
        if !self.appending {
            self.conn.execute_batch(&gpkg::create_rtree_sql(&name))?;
            // Inserting in a space-filling order keeps R*Tree node splits local: faster.
            let mut entries = std::mem::take(&mut self.entries);
            sort_by_hilbert(&mut entries);
            {
                let mut stmt = self.conn.prepare(&format!("INSERT INTO \"{rtree}\" VALUES (?1, ?2, ?3, ?4, ?5)"))?;
                for (id, e) in &entries {
                    stmt.execute(params![id, e.min_x, e.max_x, e.min_y, e.max_y])?;
                }
            }
            self.conn.execute_batch(&gpkg::rtree_triggers_sql(&name))?;
            gpkg::register_feature_table(&self.conn, &name, self.spec.kind, self.spec.has_z)?;
        } else {
            self.conn.execute("UPDATE gpkg_geometry_columns SET z = ?2 WHERE table_name = ?1", params![name, self.spec.has_z as i32])?;
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true); // ms: the server tells re-imports apart by it
        if let Some(e) = self.extent {
            self.conn.execute(
                "UPDATE gpkg_contents SET min_x = ?2, min_y = ?3, max_x = ?4, max_y = ?5, last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?1",
                params![name, e.min_x, e.min_y, e.max_x, e.max_y],
            )?;
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO formosa_layers (name, kind, source, source_crs, imported_at, feature_count, has_z, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![name, self.spec.kind.as_str(), self.spec.source, self.spec.source_crs, now, self.count as i64, self.spec.has_z as i32, details.to_string()],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.finished = true;
        let info = read_catalogue(&self.conn)?.into_iter().find(|l| l.name == name).expect("layer just committed");
        Ok(info)
    }

    /// Gives up: nothing of this import is kept.
    pub fn rollback(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("ROLLBACK")?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for GpkgImport {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn insert_sql(table: &str, kind: LayerKind) -> String {
    let cols: Vec<String> = kind.columns().iter().map(|c| format!("\"{}\"", c.name)).collect();
    let marks: Vec<String> = (0..kind.columns().len() + 2).map(|i| format!("?{}", i + 1)).collect();
    format!("INSERT INTO \"{table}\" (geom, {}, source_attributes) VALUES ({})", cols.join(", "), marks.join(", "))
}

/// Orders envelopes along a Hilbert curve of their centres.
fn sort_by_hilbert(entries: &mut [(i64, Envelope)]) {
    let Some(total) = entries.iter().map(|(_, e)| *e).reduce(Envelope::union) else { return };
    let w = (total.max_x - total.min_x).max(1e-12);
    let h = (total.max_y - total.min_y).max(1e-12);
    let key = |e: &Envelope| {
        let x = (((e.min_x + e.max_x) / 2.0 - total.min_x) / w * 65535.0) as u32;
        let y = (((e.min_y + e.max_y) / 2.0 - total.min_y) / h * 65535.0) as u32;
        hilbert_index(x.min(65535), y.min(65535))
    };
    entries.sort_by_cached_key(|(_, e)| key(e));
}

/// Position of (x, y) on a 2^16 × 2^16 Hilbert curve.
fn hilbert_index(mut x: u32, mut y: u32) -> u64 {
    let n: u32 = 1 << 16;
    let mut d: u64 = 0;
    let mut s = n / 2;
    while s > 0 {
        let rx = ((x & s) > 0) as u32;
        let ry = ((y & s) > 0) as u32;
        d += (s as u64) * (s as u64) * ((3 * rx) ^ ry) as u64;
        if ry == 0 {
            if rx == 1 {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}
