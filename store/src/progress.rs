//! Imports in progress, as any process on the same store sees them (`/metrics` of a
//! server, while `formosa import` runs in another process).
//!
//! An import's process keeps one record per import on a [`Board`] the backend provides
//! (GeoPackage: a sidecar directory; PostGIS: a table written outside the import's
//! transaction). The record is written by a heartbeat thread once a second from two
//! atomics the importer sets, never per row; it goes when the import commits, rolls back
//! or is dropped. A process that dies leaves its record behind: readers skip and remove
//! records whose process is gone from this host, or that no heartbeat touched for
//! [`STALE_AFTER`].

pub use crate::model::ImportProgress;
use crate::model::{LayerInfo, NewFeature};
use crate::traits::{FeatureImport, ImageryImport, TerrainImport};
use crate::StoreError;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the importing process rewrites its record.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A record no heartbeat touched for this long belongs to a dead (or frozen) process.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// Where a backend keeps the records. Each record is keyed by (host, pid, layer).
pub(crate) trait Board: Send + Sync + 'static {
    /// Creates or replaces the record, stamping it as updated now.
    fn put(&self, p: &ImportProgress) -> Result<(), StoreError>;
    /// Removes the record; a missing one is fine.
    fn remove(&self, p: &ImportProgress);
    /// Every record with the time since its last update (by the board's own clock).
    fn list(&self) -> Result<Vec<(ImportProgress, Duration)>, StoreError>;
}

/// The live records of `board`; stale ones are removed on the way.
pub(crate) fn in_progress(board: &dyn Board) -> Result<Vec<ImportProgress>, StoreError> {
    let here = host();
    let mut live = Vec::new();
    for (p, age) in board.list()? {
        if age > STALE_AFTER || (p.host == here && !pid_alive(p.pid)) {
            tracing::info!("import of '{}' by pid {} on {} is gone (last seen {} s ago); removing its progress record", p.layer, p.pid, p.host, age.as_secs());
            board.remove(&p);
        } else {
            live.push(p);
        }
    }
    live.sort_by(|a, b| (&a.layer, &a.started_at).cmp(&(&b.layer, &b.started_at)));
    Ok(live)
}

/// This machine's name, as records name their host.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` runs on this host. A zombie (killed, not yet reaped by its
/// parent) is dead. Without /proc (not Linux) every pid counts as alive, and only the
/// staleness rule applies.
fn pid_alive(pid: u32) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself hold ") ".
        Ok(stat) => stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

const UNKNOWN: u64 = u64::MAX;

/// The counts the importer sets and the heartbeat reads.
struct Counts {
    done: AtomicU64,
    total: AtomicU64,
}

/// Keeps one import's record while it lives: written at once, then every [`HEARTBEAT`],
/// removed when dropped (after the import's commit or rollback returned).
pub(crate) struct Tracker {
    counts: Arc<Counts>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Tracker {
    pub fn start(board: Arc<dyn Board>, layer: &str, kind: &str) -> Tracker {
        let counts = Arc::new(Counts { done: AtomicU64::new(0), total: AtomicU64::new(UNKNOWN) });
        let mut record = ImportProgress {
            layer: layer.to_string(),
            kind: kind.to_string(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            rows_done: 0,
            rows_total: None,
            pid: std::process::id(),
            host: host(),
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = counts.clone();
        let thread = std::thread::Builder::new().name("formosa-import-progress".into()).spawn(move || {
            // Progress is for operators: a board that cannot be written (a read-only
            // directory, a database gone) is logged once and never fails the import.
            let mut warned = false;
            loop {
                record.rows_done = shared.done.load(Ordering::Relaxed);
                record.rows_total = Some(shared.total.load(Ordering::Relaxed)).filter(|t| *t != UNKNOWN);
                if let Err(e) = board.put(&record) {
                    if !warned {
                        tracing::warn!("cannot record the progress of the import of '{}': {e}", record.layer);
                        warned = true;
                    }
                }
                match stopped.recv_timeout(HEARTBEAT) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            board.remove(&record);
        });
        match thread {
            Ok(thread) => Tracker { counts, stop: Some(stop), thread: Some(thread) },
            Err(e) => {
                tracing::warn!("no progress record for the import of '{layer}': {e}");
                Tracker { counts, stop: None, thread: None }
            }
        }
    }

    pub fn set(&self, done: u64, total: Option<u64>) {
        self.counts.done.store(done, Ordering::Relaxed);
        self.counts.total.store(total.unwrap_or(UNKNOWN), Ordering::Relaxed);
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Wraps a backend's import handles with their records.
pub(crate) struct Tracked;

impl Tracked {
    pub fn features(inner: Box<dyn FeatureImport>, tracker: Tracker) -> Box<dyn FeatureImport> {
        Box::new(TrackedFeatures { inner, tracker })
    }
    pub fn terrain(inner: Box<dyn TerrainImport>, tracker: Tracker) -> Box<dyn TerrainImport> {
        Box::new(TrackedTerrain { inner, tracker })
    }
    pub fn imagery(inner: Box<dyn ImageryImport>, tracker: Tracker) -> Box<dyn ImageryImport> {
        Box::new(TrackedImagery { inner, tracker })
    }
}

/// A feature import with its record: the backend's import, forwarded, and the tracker,
/// dropped only after the import's own commit or rollback has returned.
struct TrackedFeatures {
    inner: Box<dyn FeatureImport>,
    tracker: Tracker,
}

impl FeatureImport for TrackedFeatures {
    fn insert(&mut self, f: &NewFeature) -> Result<i64, StoreError> {
        self.inner.insert(f)
    }
    fn count(&self) -> u64 {
        self.inner.count()
    }
    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.tracker.set(done, total);
    }
    fn commit(self: Box<Self>, details: serde_json::Value) -> Result<LayerInfo, StoreError> {
        let TrackedFeatures { inner, tracker } = *self;
        let r = inner.commit(details);
        drop(tracker);
        r
    }
    fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        let TrackedFeatures { inner, tracker } = *self;
        let r = inner.rollback();
        drop(tracker);
        r
    }
}

struct TrackedTerrain {
    inner: Box<dyn TerrainImport>,
    tracker: Tracker,
}

impl TerrainImport for TrackedTerrain {
    fn put_tile(&mut self, z: u8, x: u32, y: u32, heights: &[f32]) -> Result<bool, StoreError> {
        self.inner.put_tile(z, x, y, heights)
    }
    fn tile_count(&self) -> u64 {
        self.inner.tile_count()
    }
    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.tracker.set(done, total);
    }
    fn commit(self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        let TrackedTerrain { inner, tracker } = *self;
        let r = inner.commit(source, source_crs, details);
        drop(tracker);
        r
    }
}

struct TrackedImagery {
    inner: Box<dyn ImageryImport>,
    tracker: Tracker,
}

impl ImageryImport for TrackedImagery {
    fn put_tile(&mut self, z: u8, x: u32, y: u32, encoded: &[u8]) -> Result<(), StoreError> {
        self.inner.put_tile(z, x, y, encoded)
    }
    fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.tile(z, x, y)
    }
    fn tile_count(&self) -> u64 {
        self.inner.tile_count()
    }
    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.tracker.set(done, total);
    }
    fn commit(self: Box<Self>, source: &str, source_crs: &str, details: serde_json::Value) -> Result<(), StoreError> {
        let TrackedImagery { inner, tracker } = *self;
        let r = inner.commit(source, source_crs, details);
        drop(tracker);
        r
    }
}

/// The GeoPackage's board: one JSON file per import in `<store>.imports/`, beside the
/// store, because the import holds SQLite's only write transaction for its whole run
/// and nothing it writes to the file is visible before its commit. Each file is written
/// under a temporary name and renamed, so a reader never sees half of one.
pub(crate) struct SidecarBoard {
    dir: std::path::PathBuf,
}

#[derive(Serialize, Deserialize)]
struct SidecarRecord {
    #[serde(flatten)]
    progress: ImportProgress,
    updated_at_ms: u64,
}

impl SidecarBoard {
    pub fn beside(store: &std::path::Path) -> SidecarBoard {
        let mut dir = store.as_os_str().to_owned();
        dir.push(".imports");
        SidecarBoard { dir: dir.into() }
    }

    fn file(&self, p: &ImportProgress) -> std::path::PathBuf {
        self.dir.join(format!("{}.{}.{}.json", p.layer, p.host, p.pid))
    }
}

impl Board for SidecarBoard {
    fn put(&self, p: &ImportProgress) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", self.dir.display()));
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let body = serde_json::to_vec(&SidecarRecord { progress: p.clone(), updated_at_ms: unix_ms() }).unwrap_or_default();
        let file = self.file(p);
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(io)?;
        std::fs::rename(&tmp, &file).map_err(io)
    }

    fn remove(&self, p: &ImportProgress) {
        let _ = std::fs::remove_file(self.file(p));
        // Only succeeds once empty: leaves nothing beside the store when no import runs.
        let _ = std::fs::remove_dir(&self.dir);
    }

    fn list(&self) -> Result<Vec<(ImportProgress, Duration)>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::Unavailable(format!("{}: {e}", self.dir.display()))),
        };
        let now = unix_ms();
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // A file removed between the listing and the read is an import that ended.
            let Ok(bytes) = std::fs::read(&path) else { continue };
            match serde_json::from_slice::<SidecarRecord>(&bytes) {
                Ok(r) => out.push((r.progress, Duration::from_millis(now.saturating_sub(r.updated_at_ms)))),
                Err(e) => tracing::debug!("{}: not a progress record: {e}", path.display()),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_alive_and_a_missing_one_dead() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(u32::MAX - 1));
    }

    #[test]
    fn sidecar_records_live_while_tracked_and_go_at_drop() {
        let dir = tempfile::tempdir().unwrap();
        let board: Arc<dyn Board> = Arc::new(SidecarBoard::beside(&dir.path().join("s.gpkg")));
        let tracker = Tracker::start(board.clone(), "buildings", "buildings");
        tracker.set(10, Some(100));
        std::thread::sleep(HEARTBEAT + Duration::from_millis(300));
        let live = in_progress(board.as_ref()).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].layer.as_str(), live[0].rows_done, live[0].rows_total), ("buildings", 10, Some(100)));
        drop(tracker);
        assert!(in_progress(board.as_ref()).unwrap().is_empty());
        assert!(!dir.path().join("s.gpkg.imports").exists(), "the sidecar directory goes with its last record");
    }

    #[test]
    fn records_of_dead_processes_are_skipped_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let board = SidecarBoard::beside(&dir.path().join("s.gpkg"));
        let dead = ImportProgress {
            layer: "parcels".into(),
            kind: "cadastral".into(),
            started_at: "2024-01-01T00:00:00.000Z".into(),
            rows_done: 5,
            rows_total: None,
            pid: u32::MAX - 1,
            host: host(),
        };
        board.put(&dead).unwrap();
        let elsewhere = ImportProgress { host: "another-host".into(), pid: 1, ..dead.clone() };
        board.put(&elsewhere).unwrap();
        // Another host's pid cannot be checked: its record lives until it is stale.
        assert_eq!(in_progress(&board).unwrap(), vec![elsewhere.clone()]);
        assert_eq!(board.list().unwrap().len(), 1, "the dead process's record was removed");
    }
}
