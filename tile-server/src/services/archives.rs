//! Seeded archives as tile sets: PMTiles v3 archives (as `formosa seed` writes them) read
//! from a local file or an S3-compatible bucket (`object_store`), or over HTTP range
//! requests (`reqwest`), for the static tier in front of the live one. Tiles come back
//! exactly as stored: the handler decides the content type and encoding from the header.
//!
//! An archive is opened (header, root directory, metadata) when the server starts; one
//! that cannot be read then stops the start. Later failures are errors of the one request.
//! An archive replaced in place (re-seeded, re-uploaded: another ETag) is opened again on
//! the first read that notices, so a node follows a new seed without a restart.

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};
use pmtiles::{
    AsyncBackend, AsyncPmTilesReader, BackendResponse, Compression, HttpBackend, MokaCache, ObjectStoreBackend, PmtError, PmtResult, SharedMokaCache, TileCoord, TileType,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Leaf directories kept in memory, for all archives together (a tile lookup in a large
/// archive reads one leaf directory, tens to hundreds of KB, before the tile itself).
const DIRECTORY_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// How long one read from a bucket or an HTTP server may take, connecting included, and
/// how long retries of a failing one go on: a node answers 503 within seconds when the
/// storage is away, rather than holding the request until the server's timeout.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const RETRY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where an archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine (`file://` URLs too).
    File(PathBuf),
    /// An `http://` or `https://` URL, read with range requests.
    Http(String),
    /// `s3://bucket/key` in an S3-compatible store; endpoint, region and credentials
    /// from the AWS_* environment (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP=true for a plain-HTTP endpoint…).
    S3 { bucket: String, key: String },
}

impl Location {
    /// Parses a path, `file://`, `http(s)://` or `s3://` URL.
    pub fn parse(source: &str) -> Result<Location, String> {
        let source = source.trim();
        if source.is_empty() {
            return Err("the source is empty; give a file path, an http(s):// URL or s3://bucket/key".into());
        }
        if let Some(rest) = source.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
                return Err(format!("'{source}' must be s3://BUCKET/KEY (the archive's object, e.g. s3://basemap/taipei.pmtiles)"));
            }
            return Ok(Location::S3 { bucket: bucket.to_string(), key: key.to_string() });
        }
        if source.starts_with("http://") || source.starts_with("https://") {
            reqwest_url(source)?;
            return Ok(Location::Http(source.to_string()));
        }
        if let Some(path) = source.strip_prefix("file://") {
            return Ok(Location::File(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = source.split_once("://") {
            return Err(format!("'{source}': unknown scheme '{scheme}://'; give a file path, an http(s):// URL or s3://bucket/key"));
        }
        Ok(Location::File(PathBuf::from(source)))
    }

    /// What logs and the catalogue show: the URL without any user or password in it.
    pub fn display(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Http(u) => match reqwest_url(u) {
                Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
                    let _ = url.set_username("");
                    let _ = url.set_password(None);
                    url.to_string()
                }
                _ => u.clone(),
            },
            Location::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

fn reqwest_url(u: &str) -> Result<pmtiles::reqwest::Url, String> {
    pmtiles::reqwest::Url::parse(u).map_err(|e| format!("'{u}' is not a valid URL: {e}"))
}

/// The archive's own backend: one of pmtiles' two, so a single reader type serves all.
enum Backend {
    Http(HttpBackend),
    Store(ObjectStoreBackend),
}

impl AsyncBackend for Backend {
    async fn read(&self, offset: u64, length: usize) -> PmtResult<BackendResponse> {
        match self {
            Backend::Http(b) => b.read(offset, length).await,
            Backend::Store(b) => b.read(offset, length).await,
        }
    }
}

type Reader = AsyncPmTilesReader<Backend, MokaCache>;

/// What the archive's header and metadata say.
#[derive(Debug, Clone)]
pub struct ArchiveInfo {
    pub tile_type: TileType,
    pub compression: Compression,
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// west, south, east, north (degrees).
    pub bounds: [f64; 4],
    /// lon, lat, zoom.
    pub center: (f64, f64, u8),
    /// Tiles the archive addresses (empty tiles left out), when the header says.
    pub addressed_tiles: Option<u64>,
    /// The archive's JSON metadata (name, attribution, vector_layers…), or an empty object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl ArchiveInfo {
    /// Whether the archive was seeded for this tile: within its zooms, and meeting its
    /// bounds. A tile it covers but does not hold was left out as empty.
    pub fn covers(&self, z: u8, x: u32, y: u32) -> bool {
        if z < self.min_zoom || z > self.max_zoom {
            return false;
        }
        let n = f64::from(1u32 << z);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (std::f64::consts::PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        let [w, s, e, north] = self.bounds;
        lon(f64::from(x)) <= e && lon(f64::from(x + 1)) >= w && lat(f64::from(y + 1)) <= north && lat(f64::from(y)) >= s
    }
}

/// An archive opened: its reader, and what its header and metadata said then.
struct Opened {
    reader: Reader,
    info: ArchiveInfo,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The storage did not answer, or not as asked (network, bucket, file gone): 503.
    #[error("archive '{name}' at {at} cannot be read now: {reason}")]
    Unavailable { name: String, at: String, reason: String },
    /// The bytes read are not a valid archive (a damaged or foreign file): 500.
    #[error("archive '{name}' at {at} is damaged: {reason}")]
    Damaged { name: String, at: String, reason: String },
}

/// One archive served as a tile set.
pub struct Archive {
    pub name: String,
    pub location: Location,
    opened: RwLock<Arc<Opened>>,
    /// Held while the archive is opened again, so concurrent readers that notice a
    /// replaced archive open it once.
    reopening: tokio::sync::Mutex<()>,
    caches: SharedMokaCache,
}

impl Archive {
    /// Opens the archive: header, root directory and metadata.
    pub async fn open(name: &str, location: Location, caches: &SharedMokaCache) -> Result<Archive, String> {
        let opened = open_reader(&location, caches).await.map_err(|e| format!("archive '{name}' at {}: {}", location.display(), describe(&e)))?;
        Ok(Archive { name: name.to_string(), location, opened: RwLock::new(Arc::new(opened)), reopening: tokio::sync::Mutex::new(()), caches: caches.clone() })
    }

    /// What the header and metadata say (as of the last time the archive was opened).
    pub fn info(&self) -> ArchiveInfo {
        self.current().info.clone()
    }

    fn current(&self) -> Arc<Opened> {
        self.opened.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The tile's bytes exactly as stored (compressed as `info().compression` says), or
    /// None when the archive does not hold it. With the archive's info of that read.
    pub async fn tile(&self, z: u8, x: u32, y: u32) -> Result<(Option<bytes::Bytes>, ArchiveInfo), ArchiveError> {
        let opened = self.current();
        // Not a tile of any archive (z above 31, x or y off the grid): not held.
        let Ok(coord) = TileCoord::new(z, x, y) else { return Ok((None, opened.info.clone())) };
        match opened.reader.get_tile(coord).await {
            Ok(t) => Ok((t, opened.info.clone())),
            Err(PmtError::SourceModified) => {
                let opened = self.reopen(&opened).await?;
                let t = opened.reader.get_tile(coord).await.map_err(|e| self.error(&e))?;
                Ok((t, opened.info.clone()))
            }
            Err(e) => Err(self.error(&e)),
        }
    }

    /// Opens the archive again after a read found it replaced (unless another request
    /// did since `stale` was current).
    async fn reopen(&self, stale: &Arc<Opened>) -> Result<Arc<Opened>, ArchiveError> {
        let _one = self.reopening.lock().await;
        let current = self.current();
        if !Arc::ptr_eq(&current, stale) {
            return Ok(current);
        }
        let fresh = Arc::new(open_reader(&self.location, &self.caches).await.map_err(|e| self.error(&e))?);
        tracing::info!("archive '{}' at {} was replaced; opened again (z{}–z{})", self.name, self.location.display(), fresh.info.min_zoom, fresh.info.max_zoom);
        *self.opened.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    fn error(&self, e: &PmtError) -> ArchiveError {
        let (name, at, reason) = (self.name.clone(), self.location.display(), describe(e));
        if is_damage(e) {
            ArchiveError::Damaged { name, at, reason }
        } else {
            ArchiveError::Unavailable { name, at, reason }
        }
    }
}

/// Errors that say the bytes are wrong rather than the storage away.
fn is_damage(e: &PmtError) -> bool {
    matches!(
        e,
        PmtError::InvalidMagicNumber
            | PmtError::UnsupportedPmTilesVersion
            | PmtError::InvalidCompression
            | PmtError::UnsupportedCompression(_)
            | PmtError::InvalidEntry
            | PmtError::InvalidHeader
            | PmtError::InvalidMetadata
            | PmtError::InvalidMetadataUtf8Encoding(_)
            | PmtError::InvalidTileType
    )
}

/// An error with its causes, on one line (object_store and reqwest put the useful part,
/// such as "connection refused", in the source chain).
fn describe(e: &PmtError) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text.replace('\n', " ")
}

async fn open_reader(location: &Location, caches: &SharedMokaCache) -> PmtResult<Opened> {
    let backend = match location {
        Location::Http(url) => {
            let client = pmtiles::reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).timeout(READ_TIMEOUT).build()?;
            Backend::Http(HttpBackend::try_from(client, url.as_str())?)
        }
        Location::File(path) => {
            // object_store's local store wants an absolute path; the file must exist.
            let abs = std::fs::canonicalize(path)?;
            let path = object_store::path::Path::from_absolute_path(&abs).map_err(|e| PmtError::ObjectStore(e.into()))?;
            Backend::Store(ObjectStoreBackend::new(Box::new(LocalFileSystem::new()), path))
        }
        Location::S3 { bucket, key } => {
            let store = s3_store(bucket)?;
            let path = object_store::path::Path::parse(key).map_err(|e| PmtError::ObjectStore(e.into()))?;
            Backend::Store(ObjectStoreBackend::new(store, path))
        }
    };
    let reader = AsyncPmTilesReader::try_from_cached_source(backend, caches.new_cache()).await?;
    let metadata = match reader.get_metadata().await {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(PmtError::InvalidMetadata),
        },
        // No metadata at all is allowed by the format.
        Err(PmtError::InvalidMetadata) => serde_json::Map::new(),
        Err(e) => return Err(e),
    };
    let h = reader.get_header();
    let info = ArchiveInfo {
        tile_type: h.tile_type,
        compression: h.tile_compression,
        min_zoom: h.min_zoom,
        max_zoom: h.max_zoom,
        bounds: [h.min_longitude, h.min_latitude, h.max_longitude, h.max_latitude],
        center: (h.center_longitude, h.center_latitude, h.center_zoom),
        addressed_tiles: h.n_addressed_tiles().map(|n| n.get()),
        metadata,
    };
    Ok(Opened { reader, info })
}

/// An S3 client for `bucket`, configured from the AWS_* environment, with short timeouts
/// and few retries (see READ_TIMEOUT).
fn s3_store(bucket: &str) -> PmtResult<Box<dyn ObjectStore>> {
    let secs = |d: Duration| format!("{}s", d.as_secs());
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), secs(READ_TIMEOUT))
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), secs(CONNECT_TIMEOUT))
        .with_retry(RetryConfig { max_retries: 2, retry_timeout: RETRY_TIMEOUT, ..RetryConfig::default() })
        .build()?;
    Ok(Box::new(store))
}

/// The archives a node serves, by name.
#[derive(Default)]
pub struct Archives {
    by_name: BTreeMap<String, Arc<Archive>>,
}

impl Archives {
    /// Opens every archive of `sources` (name → path or URL). Names are checked first:
    /// `[A-Za-z0-9_-]`, and none may be a name the store or the server already publishes
    /// (`taken`: the store's layers, `basemap`), so `/catalog` never lists one name twice.
    pub async fn open(sources: &BTreeMap<String, String>, taken: &[String]) -> Result<Archives, String> {
        let mut locations = Vec::new();
        for (name, source) in sources {
            check_name(name)?;
            if taken.iter().any(|t| t == name) {
                return Err(format!("archive name '{name}' is taken: the server already publishes a layer '{name}'; give the archive another name (--archive OTHER={source})"));
            }
            let location = Location::parse(source).map_err(|e| format!("archive '{name}': {e}"))?;
            locations.push((name, location));
        }
        let caches = SharedMokaCache::with_max_bytes(DIRECTORY_CACHE_BYTES);
        let mut by_name = BTreeMap::new();
        for (name, location) in locations {
            let archive = Archive::open(name, location, &caches).await?;
            let i = archive.info();
            tracing::info!(
                "archive '{name}': {} ({:?}, {:?}, z{}–z{}{})",
                archive.location.display(),
                i.tile_type,
                i.compression,
                i.min_zoom,
                i.max_zoom,
                i.addressed_tiles.map_or(String::new(), |n| format!(", {n} tiles"))
            );
            by_name.insert(name.clone(), Arc::new(archive));
        }
        Ok(Archives { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Archive>> {
        self.by_name.get(name)
    }

    /// Every archive, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Archive>> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Archive names appear in paths (`/archives/{name}.json`): letters, digits, '_' and '-'.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("archive name '{name}' must be 1–64 letters, digits, '_' or '-' (it is part of the archive's URLs)"));
    }
    Ok(())
}

/// Parses `NAME=SOURCE` (the `--archive` flag).
pub fn parse_spec(spec: &str) -> Result<(String, String), String> {
    let (name, source) =
        spec.split_once('=').ok_or_else(|| format!("--archive '{spec}' must be NAME=SOURCE, e.g. taipei=data/taipei.pmtiles or taipei=s3://basemap/taipei.pmtiles"))?;
    let name = name.trim();
    check_name(name)?;
    Location::parse(source).map_err(|e| format!("--archive {name}: {e}"))?;
    Ok((name.to_string(), source.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_mistakes_are_named() {
        assert_eq!(Location::parse("data/t.pmtiles").unwrap(), Location::File("data/t.pmtiles".into()));
        assert_eq!(Location::parse("file:///srv/t.pmtiles").unwrap(), Location::File("/srv/t.pmtiles".into()));
        assert_eq!(Location::parse("s3://tiles/2026/t.pmtiles").unwrap(), Location::S3 { bucket: "tiles".into(), key: "2026/t.pmtiles".into() });
        assert_eq!(Location::parse("https://cdn.example/t.pmtiles").unwrap(), Location::Http("https://cdn.example/t.pmtiles".into()));
        assert!(Location::parse("s3://tiles").unwrap_err().contains("s3://BUCKET/KEY"));
        assert!(Location::parse("s3://tiles/dir/").is_err());
        assert!(Location::parse("gs://tiles/t.pmtiles").unwrap_err().contains("unknown scheme"));
        assert!(Location::parse("http://[broken").is_err());
        assert_eq!(Location::parse("https://u:secret@cdn.example/t.pmtiles").unwrap().display(), "https://cdn.example/t.pmtiles");
        assert_eq!(parse_spec("taipei=s3://b/k.pmtiles").unwrap(), ("taipei".into(), "s3://b/k.pmtiles".into()));
        assert!(parse_spec("taipei").unwrap_err().contains("NAME=SOURCE"));
        assert!(parse_spec("tai.pei=x.pmtiles").unwrap_err().contains("letters, digits"));
    }

    #[test]
    fn coverage_is_the_seeded_zooms_and_box() {
        let info = ArchiveInfo {
            tile_type: TileType::Mvt,
            compression: Compression::Gzip,
            min_zoom: 13,
            max_zoom: 16,
            bounds: [121.55, 25.02, 121.57, 25.04],
            center: (121.56, 25.03, 15),
            addressed_tiles: None,
            metadata: Default::default(),
        };
        // z15 tile holding 121.56, 25.03.
        let (x, y) = (27448, 14029);
        assert!(info.covers(15, x, y));
        assert!(!info.covers(12, x / 8, y / 8), "below the seeded zooms");
        assert!(!info.covers(17, x * 2, y * 2), "above them");
        assert!(!info.covers(15, x + 40, y), "east of the box");
        assert!(!info.covers(15, x, y + 40), "south of it");
    }
}
