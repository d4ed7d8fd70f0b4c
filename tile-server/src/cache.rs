//! The tile cache: encoded tiles kept compressed, with a byte budget, and the HTTP rules
//! that go with them (content negotiation, strong ETags, 304 Not Modified).
//!
//! Keys are typed (`tile_key.rs`) and know the store layers a tile was made from, so a
//! write to one layer can drop just the tiles that depend on it.

use crate::metrics::CacheMetrics;
use arc_swap::ArcSwapOption;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use crate::tile_key::{Place, TileKey, TileKind};

const GZIP_LEVEL: u32 = 3;

/// One encoded tile: raw bytes, gzip made at insertion (every browser asks for it),
/// brotli made on first demand.
///
/// gzip level 3: on 200 base-map tiles it came out 5 % larger than level 6 in half the
/// time, and gzip was a third of an uncached z15 tile's cost at level 6.
pub struct CachedTile {
    pub raw: Bytes,
    /// Empty for formats that are compressed already (PNG): those always go out raw.
    pub gzip: Bytes,
    brotli: OnceLock<Bytes>,
    pub etag: HeaderValue,
    /// For a part of a composite tile: its deflate stream, ended at a byte boundary and
    /// not final, and the CRC-32 of its bytes.
    part: Option<(Bytes, crc32fast::Hasher)>,
}

impl CachedTile {
    pub fn new(raw: Vec<u8>) -> Self {
        let mut tile = Self::precompressed(raw);
        if !tile.raw.is_empty() {
            let mut gzip = GZIP_HEADER.to_vec();
            deflate_into(&tile.raw, flate2::FlushCompress::Finish, &mut gzip);
            gzip_trailer(&mut gzip, crc32fast::hash(&tile.raw), tile.raw.len());
            tile.gzip = Bytes::from(gzip);
        }
        tile
    }

    /// A tile in a format that is compressed already (PNG, JPEG): never re-compressed.
    /// The ETag is a 128-bit XXH3 of the bytes (SipHash of every composite was 1.6 % of
    /// the soak's CPU) and their length.
    pub fn precompressed(raw: Vec<u8>) -> Self {
        let h = xxhash_rust::xxh3::xxh3_128(&raw);
        let etag = HeaderValue::from_str(&format!("\"{h:032x}-{}\"", raw.len())).expect("ascii");
        Self { raw: Bytes::from(raw), gzip: Bytes::new(), brotli: OnceLock::new(), etag, part: None }
    }

    /// One layer's part of a composite tile, deflated on its own (full flush, no final
    /// block) so that composites are put together without compressing again.
    pub fn part(raw: Vec<u8>) -> Self {
        let mut tile = Self::precompressed(raw);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&tile.raw);
        let mut body = Vec::new();
        deflate_into(&tile.raw, flate2::FlushCompress::Full, &mut body);
        tile.part = Some((Bytes::from(body), crc));
        tile
    }

    /// A composite tile from its parts (made by `part`), in order: the raw tile is their
    /// concatenation, and its gzip is one gzip member around their deflate streams and a
    /// final empty block, with the CRC-32 combined from theirs (as pigz does).
    pub fn from_parts(parts: &[Arc<CachedTile>]) -> Self {
        let mut raw = Vec::with_capacity(parts.iter().map(|p| p.raw.len()).sum());
        let mut gzip = GZIP_HEADER.to_vec();
        let mut crc = crc32fast::Hasher::new();
        for p in parts {
            let (body, part_crc) = p.part.as_ref().expect("composite tiles are made of parts");
            raw.extend_from_slice(&p.raw);
            gzip.extend_from_slice(body);
            crc.combine(part_crc);
        }
        if raw.is_empty() {
            return Self::precompressed(raw);
        }
        // A final fixed-Huffman block holding only its end code: bits 1, 01, 0000000.
        gzip.extend_from_slice(&[0x03, 0x00]);
        gzip_trailer(&mut gzip, crc.finalize(), raw.len());
        let mut tile = Self::precompressed(raw);
        tile.gzip = Bytes::from(gzip);
        tile
    }

    pub fn brotli(&self) -> Bytes {
        self.brotli
            .get_or_init(|| {
                let mut out = Vec::with_capacity(self.raw.len() / 2 + 32);
                let params = brotli::enc::BrotliEncoderParams { quality: 5, ..Default::default() };
                let _ = brotli::BrotliCompress(&mut &self.raw[..], &mut out, &params);
                Bytes::from(out)
            })
            .clone()
    }

    fn weight(&self) -> u32 {
        let part = self.part.as_ref().map_or(0, |(b, _)| b.len());
        (self.raw.len() + self.gzip.len() + part + self.brotli.get().map_or(0, |b| b.len()) + 128).min(u32::MAX as usize) as u32
    }
}

/// A gzip member's header: deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A gzip member's trailer: the CRC-32 and length (mod 2^32) of the uncompressed bytes.
fn gzip_trailer(gzip: &mut Vec<u8>, crc: u32, len: usize) {
    gzip.extend_from_slice(&crc.to_le_bytes());
    gzip.extend_from_slice(&(len as u32).to_le_bytes());
}

thread_local! {
    /// One deflate state per tile-building thread, reset between tiles: a fresh one
    /// allocates and zeroes ~300 KB of window and hash tables, which for the small parts
    /// a surge of edits rebuilds cost more than compressing them (8 % of the soak's CPU
    /// in `_mi_page_malloc_zero`).
    static DEFLATE: std::cell::RefCell<flate2::Compress> = std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::new(GZIP_LEVEL), false));
    static DEFLATE_SMALL: std::cell::RefCell<flate2::Compress> = std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::new(SMALL_TILE_LEVEL), false));
}

/// Tiles (and parts) smaller than this are deflated at level 1. Level 3 has a fixed cost
/// per stream (dynamic Huffman trees, lazy matching) that small tiles never pay back: on
/// 500 island-wide village tiles (1.6 KB raw on average) level 3 took 25.9 µs a tile and
/// level 1 6.4 µs, a quarter of an uncached tile's CPU, for 10 % more bytes (~100 a
/// tile). On z15 parcel tiles (20 KB) level 1 would be 20 % larger, so those stay at 3.
const SMALL_TILE_BYTES: usize = 8 * 1024;
const SMALL_TILE_LEVEL: u32 = 1;

/// Appends the raw deflate of `data` to `out`, ended by `flush`: `Finish` for a whole
/// stream; `Full` for one that is byte-aligned, not final and carries no dictionary
/// over, so that such streams can follow one another.
fn deflate_into(data: &[u8], flush: flate2::FlushCompress, out: &mut Vec<u8>) {
    let state = if data.len() < SMALL_TILE_BYTES { &DEFLATE_SMALL } else { &DEFLATE };
    state.with_borrow_mut(|c| {
        c.reset();
        out.reserve(data.len() / 2 + 64);
        loop {
            let consumed = c.total_in() as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let status = c.compress_vec(&data[consumed..], out, flush).expect("in-memory deflate");
            let all_in = c.total_in() as usize == data.len();
            // Done when all input is in and the end (or the flush) fitted in the room left.
            let done = match flush {
                flate2::FlushCompress::Finish => status == flate2::Status::StreamEnd,
                _ => all_in && out.capacity() - out.len() >= 64,
            };
            if done {
                return;
            }
        }
    })
}

/// Builds under way by id: the key each builds, and whether an invalidation touched it.
type BuildRegistry = Arc<Mutex<HashMap<u64, (TileKey, bool)>>>;

#[derive(Clone)]
pub struct TileCache {
    /// None when caching is off (a budget of 0): every request renders. Replaced whole
    /// when a reload changes the budget (moka 0.12 cannot change a cache's capacity);
    /// every clone (the tile service, the edit listener) sees the new one.
    stored: Arc<ArcSwapOption<Stored>>,
    /// Builds under way, and whether an invalidation touched them since they began: such
    /// a tile may hold the old data, so it is answered but not cached (else a write's very
    /// next request could find the pre-write tile a concurrent build put back).
    building: BuildRegistry,
    next_build: Arc<std::sync::atomic::AtomicU64>,
    metrics: Arc<CacheMetrics>,
}

/// The tiles kept and their keys by place, as one: an old cache's evictions only ever
/// touch its own index.
struct Stored {
    cache: Cache<TileKey, Arc<CachedTile>>,
    /// The cached keys by place, so a live edit drops the few tiles it touches by lookup
    /// (a cache-wide predicate per edit was applied by moka to every read until its scan
    /// ended: a fifth of the server's time under a surge of writes).
    by_place: Arc<Mutex<HashMap<Place, Vec<TileKey>>>>,
}

/// A tile being built (deregistered when dropped).
pub struct Build {
    id: u64,
    /// The registry it is in (None with the cache off).
    building: Option<BuildRegistry>,
}

impl Drop for Build {
    fn drop(&mut self) {
        if let Some(building) = &self.building {
            building.lock().unwrap().remove(&self.id);
        }
    }
}

impl TileCache {
    /// A cache holding at most `budget_bytes` of tiles (raw + compressed), counting in
    /// metrics of its own.
    pub fn new(budget_bytes: u64) -> Self {
        Self::counted(budget_bytes, Arc::new(CacheMetrics::detached()))
    }

    /// A cache whose hits, misses and evictions go to `metrics`.
    pub fn counted(budget_bytes: u64, metrics: Arc<CacheMetrics>) -> Self {
        let stored = Stored::new(budget_bytes, metrics.clone()).map(Arc::new);
        Self { stored: Arc::new(ArcSwapOption::new(stored)), building: Arc::default(), next_build: Arc::default(), metrics }
    }

    /// Bytes held (as weighed) and tiles held.
    pub fn size(&self) -> (u64, u64) {
        self.stored.load().as_ref().map_or((0, 0), |s| {
            s.cache.run_pending_tasks();
            (s.cache.weighted_size(), s.cache.entry_count())
        })
    }

    /// Starts over with an empty cache of `budget_bytes` (0: off). Builds under way keep
    /// their place: each finishes into the new cache unless an edit touched it.
    pub fn resize(&self, budget_bytes: u64) {
        let _building = self.building.lock().unwrap();
        self.stored.store(Stored::new(budget_bytes, self.metrics.clone()).map(Arc::new));
    }

    /// Whether tiles are kept at all.
    pub fn enabled(&self) -> bool {
        self.stored.load().is_some()
    }

    /// The cached tile, if any (counted as a hit or a miss).
    pub fn get(&self, key: &TileKey) -> Option<Arc<CachedTile>> {
        let tile = self.peek(key);
        self.metrics.lookup(&key.kind, tile.is_some());
        tile
    }

    /// The cached tile, if any, not counted: a second look after a counted miss.
    pub fn peek(&self, key: &TileKey) -> Option<Arc<CachedTile>> {
        self.stored.load().as_ref()?.cache.get(key)
    }

    /// Registers a build of `key` before its data is read (see `finish`); with the cache
    /// off there is nothing to protect and nothing is registered.
    pub fn begin(&self, key: TileKey) -> Build {
        let id = self.next_build.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let registry = self.enabled().then(|| self.building.clone());
        if let Some(building) = &registry {
            building.lock().unwrap().insert(id, (key, false));
        }
        Build { id, building: registry }
    }

    /// The built tile, cached when the cache is on and no invalidation touched it
    /// during the build.
    pub fn finish(&self, build: Build, tile: CachedTile) -> Arc<CachedTile> {
        let tile = Arc::new(tile);
        if let Some(stored) = &*self.stored.load() {
            // Held across the insert, so an invalidation cannot slip between check and insert.
            let building = self.building.lock().unwrap();
            if let Some((key, false)) = building.get(&build.id) {
                stored.cache.insert(key.clone(), tile.clone());
                let mut index = stored.by_place.lock().unwrap();
                let keys = index.entry(key.place()).or_default();
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        tile
    }

    /// Makes the tile for `key` with `make` between `begin` and `finish`, so an edit that
    /// lands while it is made keeps the stale result out of the cache.
    pub fn make<E>(&self, key: TileKey, make: impl FnOnce() -> Result<CachedTile, E>) -> Result<Arc<CachedTile>, E> {
        let build = self.begin(key);
        Ok(self.finish(build, make()?))
    }

    /// Drops the cached tiles at these places whose kind passes `kind` (and spoils builds
    /// of such tiles under way); returns how many were cached.
    pub fn invalidate_places(&self, places: &[Place], kind: impl Fn(&TileKind) -> bool) -> usize {
        let wanted: std::collections::HashSet<&Place> = places.iter().collect();
        let mut building = self.building.lock().unwrap();
        for (key, stale) in building.values_mut() {
            if wanted.contains(&key.place()) && kind(&key.kind) {
                *stale = true;
            }
        }
        let mut dropped = 0;
        if let Some(stored) = &*self.stored.load() {
            let doomed: Vec<TileKey> = {
                let index = stored.by_place.lock().unwrap();
                places.iter().filter_map(|p| index.get(p)).flatten().filter(|k| kind(&k.kind)).cloned().collect()
            };
            dropped = doomed.len();
            for key in doomed {
                stored.cache.invalidate(&key);
            }
        }
        drop(building);
        dropped
    }

    /// Drops every cached tile whose key satisfies `pred` (re-imports: whole layers), and
    /// spoils every build under way.
    pub fn invalidate(&self, pred: impl Fn(&TileKey) -> bool + Send + Sync + 'static) {
        let mut building = self.building.lock().unwrap();
        for (_, stale) in building.values_mut() {
            *stale = true;
        }
        if let Some(stored) = &*self.stored.load() {
            let _ = stored.cache.invalidate_entries_if(move |k, _| pred(k));
        }
        drop(building);
    }
}

impl Stored {
    fn new(budget_bytes: u64, metrics: Arc<CacheMetrics>) -> Option<Stored> {
        let by_place: Arc<Mutex<HashMap<Place, Vec<TileKey>>>> = Arc::default();
        let index = by_place.clone();
        let cache = (budget_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(budget_bytes)
                .weigher(|_k: &TileKey, v: &Arc<CachedTile>| v.weight())
                // Re-imports drop whole layers with a predicate (rare).
                .support_invalidation_closures()
                .eviction_listener(move |k: Arc<TileKey>, _v, cause| {
                    use moka::notification::RemovalCause;
                    let counted = match cause {
                        RemovalCause::Size => Some("size"),
                        RemovalCause::Explicit => Some("explicit"),
                        RemovalCause::Expired | RemovalCause::Replaced => None,
                    };
                    if let Some(cause) = counted {
                        metrics.evicted(&k.kind, cause);
                    }
                    if cause != RemovalCause::Replaced {
                        let mut index = index.lock().unwrap();
                        if let Some(keys) = index.get_mut(&k.place()) {
                            keys.retain(|x| x != k.as_ref());
                            if keys.is_empty() {
                                index.remove(&k.place());
                            }
                        }
                    }
                })
                .build()
        })?;
        Some(Stored { cache, by_place })
    }
}

/// Which encoding to send, from the request's Accept-Encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

pub fn negotiate(headers: &HeaderMap) -> Encoding {
    if accepts(headers, "br") {
        Encoding::Brotli
    } else if accepts(headers, "gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Whether the request's Accept-Encoding lists `coding` (not with q=0). No header: only
/// identity, as every browser sends one.
pub fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.split(',').any(|part| {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
        name.eq_ignore_ascii_case(coding) && !q_zero
    })
}

/// The HTTP response for a cached tile: 304 when the client already has it, else the
/// body in the best accepted encoding, with ETag, Cache-Control and Vary.
pub fn respond(tile: &CachedTile, content_type: &'static str, headers: &HeaderMap) -> Response {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == tile.etag.to_str().unwrap_or("")));
    let common =
        [(header::ETAG, tile.etag.clone()), (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")), (header::VARY, HeaderValue::from_static("Accept-Encoding"))];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let ctype = (header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Empty tiles go out as they are: compressing zero bytes only adds a header.
    match negotiate(headers) {
        _ if tile.raw.is_empty() || tile.gzip.is_empty() => (common, [ctype], tile.raw.clone()).into_response(),
        Encoding::Brotli => (common, [ctype, (header::CONTENT_ENCODING, HeaderValue::from_static("br"))], tile.brotli()).into_response(),
        Encoding::Gzip => (common, [ctype, (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))], tile.gzip.clone()).into_response(),
        Encoding::Identity => (common, [ctype], tile.raw.clone()).into_response(),
    }
}

/// The HTTP response for a tile sent as it was stored elsewhere (a seeded archive's
/// bytes), compressed with `coding` (`gzip`, `br`, `zstd`) or not at all (None): byte for
/// byte, with that Content-Encoding, when the client accepts it; decoded for a client that
/// does not (gzip and brotli; a zstd tile to such a client is refused, 406). The ETag is
/// the stored bytes' XXH3-128 and length, one per tile whatever the encoding sent, as for
/// the server's own tiles (`Vary: Accept-Encoding`); 304 when the client has it.
pub fn respond_stored(stored: Bytes, coding: Option<&'static str>, content_type: &'static str, headers: &HeaderMap) -> Result<Response, crate::problem::Problem> {
    let etag = HeaderValue::from_str(&format!("\"{:032x}-{}\"", xxhash_rust::xxh3::xxh3_128(&stored), stored.len())).expect("ascii");
    let matches =
        headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == etag));
    let common = [(header::ETAG, etag), (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")), (header::VARY, HeaderValue::from_static("Accept-Encoding"))];
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let ctype = (header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let Some(coding) = coding else {
        return Ok((common, [ctype], stored).into_response());
    };
    if accepts(headers, coding) {
        return Ok((common, [ctype, (header::CONTENT_ENCODING, HeaderValue::from_static(coding))], stored).into_response());
    }
    let mut decoded = Vec::with_capacity(stored.len() * 3);
    let result = match coding {
        "gzip" => std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&stored[..]), &mut decoded).map(|_| ()),
        "br" => brotli::BrotliDecompress(&mut &stored[..], &mut decoded),
        other => {
            return Err(crate::problem::Problem::new(
                StatusCode::NOT_ACCEPTABLE,
                format!("this tile is stored {other}-compressed and the request's Accept-Encoding does not list {other}"),
            ))
        }
    };
    result.map_err(|e| crate::problem::Problem::internal(format!("the stored tile does not decode as {coding}: {e}")))?;
    Ok((common, [ctype], decoded).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(k: header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(k, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn negotiation_prefers_brotli_and_honours_q_zero() {
        assert_eq!(negotiate(&h(header::ACCEPT_ENCODING, "gzip, deflate, br")), Encoding::Brotli);
        assert_eq!(negotiate(&h(header::ACCEPT_ENCODING, "gzip, br;q=0")), Encoding::Gzip);
        assert_eq!(negotiate(&h(header::ACCEPT_ENCODING, "identity")), Encoding::Identity);
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn compressed_forms_decode_to_the_raw_tile_and_etags_are_stable() {
        let raw: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let t = CachedTile::new(raw.clone());
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&t.gzip[..]), &mut back).unwrap();
        assert_eq!(back, raw);
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &t.brotli()[..], &mut back).unwrap();
        assert_eq!(back, raw);
        assert_eq!(CachedTile::new(raw).etag, t.etag);
    }

    #[test]
    fn a_tile_built_across_an_invalidation_is_answered_but_not_kept() {
        let cache = TileCache::new(1 << 20);
        let key = |x| TileKey::new(TileKind::mvt("basemap"), 15, x, 1);
        let (one, three) = (cache.begin(key(1)), cache.begin(key(3)));
        cache.invalidate_places(&[key(1).place()], |k| *k == TileKind::mvt("basemap")); // a write lands on tile 1 meanwhile
        let tile = cache.finish(one, CachedTile::new(vec![1, 2, 3]));
        assert_eq!(&tile.raw[..], &[1, 2, 3]);
        assert!(cache.get(&key(1)).is_none(), "the possibly stale tile is not cached");
        cache.finish(three, CachedTile::new(vec![5]));
        assert!(cache.get(&key(3)).is_some(), "a tile the write did not touch is cached");
        cache.invalidate_places(&[key(3).place()], |k| *k == TileKind::mvt("cadastral"));
        assert!(cache.get(&key(3)).is_some(), "another layer's edit leaves it");
        cache.invalidate_places(&[key(3).place()], |k| *k == TileKind::mvt("basemap"));
        assert!(cache.get(&key(3)).is_none(), "dropped by place");
        let four = cache.begin(key(4));
        cache.invalidate(|_| true); // a re-import: every tile may be touched
        cache.finish(four, CachedTile::new(vec![6]));
        assert!(cache.get(&key(4)).is_none());
    }

    #[test]
    fn a_composite_of_parts_gunzips_to_the_concatenation() {
        let parts: Vec<Arc<CachedTile>> =
            [vec![], (0..70_000u32).map(|i| (i % 251) as u8).collect(), b"incidents".to_vec(), vec![7; 3000]].into_iter().map(|raw| Arc::new(CachedTile::part(raw))).collect();
        let whole = CachedTile::from_parts(&parts);
        let expected: Vec<u8> = parts.iter().flat_map(|p| p.raw.to_vec()).collect();
        assert_eq!(&whole.raw[..], &expected[..]);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&whole.gzip[..]), &mut back).unwrap();
        assert_eq!(back, expected, "one gzip member, CRC and size checked by the decoder");
        assert!(whole.gzip.len() < expected.len() / 2);
        assert_eq!(whole.etag, CachedTile::new(expected).etag, "the same tile has the same ETag however it was made");
        assert!(CachedTile::from_parts(&[Arc::new(CachedTile::part(vec![]))]).raw.is_empty());
    }

    #[test]
    fn stored_tiles_go_out_as_stored_or_decoded_for_clients_that_refuse_the_coding() {
        let raw: Vec<u8> = (0..4000u32).map(|i| (i % 97) as u8).collect();
        let stored = CachedTile::new(raw.clone()).gzip;
        let body = |r: Response| {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(axum::body::to_bytes(r.into_body(), usize::MAX)).unwrap()
        };
        let r = respond_stored(stored.clone(), Some("gzip"), "x/y", &h(header::ACCEPT_ENCODING, "br, gzip")).unwrap();
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let etag = r.headers()[header::ETAG].clone();
        assert_eq!(body(r), stored, "byte for byte");
        let r = respond_stored(stored.clone(), Some("gzip"), "x/y", &h(header::ACCEPT_ENCODING, "gzip;q=0, br")).unwrap();
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(r.headers()[header::ETAG], etag, "one ETag per tile");
        assert_eq!(body(r), raw, "decoded");
        let r = respond_stored(stored.clone(), Some("gzip"), "x/y", &h(header::IF_NONE_MATCH, etag.to_str().unwrap())).unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let png = Bytes::from_static(b"\x89PNG");
        assert_eq!(body(respond_stored(png.clone(), None, "image/png", &h(header::ACCEPT_ENCODING, "gzip")).unwrap()), png);
        let e = respond_stored(png.clone(), Some("zstd"), "x/y", &HeaderMap::new()).unwrap_err();
        assert_eq!(e.status, 406);
        let e = respond_stored(png, Some("gzip"), "x/y", &HeaderMap::new()).unwrap_err();
        assert_eq!(e.status, 500, "a damaged stored tile");
    }

    #[test]
    fn if_none_match_gives_304() {
        let t = CachedTile::new(vec![1, 2, 3]);
        let r = respond(&t, "x/y", &h(header::IF_NONE_MATCH, t.etag.to_str().unwrap()));
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = respond(&t, "x/y", &h(header::IF_NONE_MATCH, "\"other\""));
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn a_resized_cache_starts_empty_and_edits_still_find_its_tiles() {
        let cache = TileCache::new(1 << 20);
        let key = TileKey::new(TileKind::mvt("parcels"), 14, 13_722, 7_013);
        cache.make(key.clone(), || Ok::<_, ()>(CachedTile::new(b"before".to_vec()))).unwrap();
        assert!(cache.get(&key).is_some());
        let listener_side = cache.clone();
        cache.resize(2 << 20);
        assert!(cache.get(&key).is_none(), "a new, empty cache");
        cache.make(key.clone(), || Ok::<_, ()>(CachedTile::new(b"after".to_vec()))).unwrap();
        assert_eq!(listener_side.get(&key).unwrap().raw.as_ref(), b"after", "clones see the new cache");
        listener_side.invalidate_places(&[key.place()], |_| true);
        assert!(cache.get(&key).is_none(), "an edit drops the tile from the new cache");
        cache.resize(0);
        assert!(!cache.enabled());
        cache.make(key.clone(), || Ok::<_, ()>(CachedTile::new(b"off".to_vec()))).unwrap();
        assert!(cache.get(&key).is_none());
    }
}
