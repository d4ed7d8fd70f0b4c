//! Tiles through the cache: a cached tile is answered at once; a missing one is made on a
//! tile builder (`builders.rs`), compressed once and cached. The composite base map is
//! put together from its layers' cached parts.

use crate::builders::{BuildError, BuildKind, Builders, Class, Cost, Ticket, Work};
use crate::cache::{CachedTile, TileCache, TileKey, TileKind};
use crate::problem::Problem;
use formosa_encoders::tiles;
use formosa_store::{Catalog, Store};
use std::sync::Arc;

/// Vector tiles that read at most this many features are made on the task that asked
/// (see `TileService::vector`): ~0.3 ms of work at most, about what answering fifty
/// cached tiles takes an async worker.
const INLINE_MAX_FEATURES: usize = 200;

/// The tile cache and the builders that fill it.
#[derive(Clone)]
pub struct TileService {
    pub cache: TileCache,
    builders: Arc<Builders>,
}

impl TileService {
    pub fn new(cache: TileCache, builders: Arc<Builders>) -> TileService {
        TileService { cache, builders }
    }

    /// The cached tile for `key`, or one made by `make` on a tile builder as cheap work,
    /// then compressed (unless `precompressed`) and cached.
    pub async fn cached_or_made(&self, key: TileKey, precompressed: bool, make: impl FnOnce() -> Result<Vec<u8>, Problem> + Send + 'static) -> Result<Arc<CachedTile>, Problem> {
        self.cached_or_made_as(key, Cost::default, precompressed, make).await
    }

    /// `cached_or_made` for a build whose class follows from its estimated `cost`, asked
    /// only on a cache miss.
    pub async fn cached_or_made_as(
        &self,
        key: TileKey,
        cost: impl FnOnce() -> Cost,
        precompressed: bool,
        make: impl FnOnce() -> Result<Vec<u8>, Problem> + Send + 'static,
    ) -> Result<Arc<CachedTile>, Problem> {
        if let Some(tile) = self.cache.get(&key) {
            return Ok(tile);
        }
        let work = Work::new(build_kind(&key.kind), self.class(cost()));
        self.built_on_builder(key, work, move || make().map(|raw| if precompressed { CachedTile::precompressed(raw) } else { CachedTile::new(raw) })).await
    }

    /// The tile for `key` made by `make` on a builder, unless a request that reached a
    /// builder first has cached it meanwhile.
    async fn built_on_builder(&self, key: TileKey, work: Work, make: impl FnOnce() -> Result<CachedTile, Problem> + Send + 'static) -> Result<Arc<CachedTile>, Problem> {
        let cache = self.cache.clone();
        self.run(work, move |_| match cache.peek(&key) {
            Some(tile) => Ok(tile),
            None => cache.make(key, make),
        })
        .await
        .map_err(Problem::from)?
    }

    /// The class of work a build of this cost is.
    pub fn class(&self, cost: Cost) -> Class {
        self.builders.class(cost)
    }

    /// Builds waiting, by class (cheap, heavy).
    pub fn queued(&self) -> [usize; 2] {
        self.builders.queued()
    }

    /// The builders, for their limits.
    pub fn builders(&self) -> &Builders {
        &self.builders
    }

    /// Vector tile z/x/y of `layers` under `key`: from the cache, or made — on the calling
    /// task when it reads few features and a builder is idle, else on a builder. A
    /// composite base-map tile (`from_parts`, with the cache on) is put together from its
    /// layers' cached parts.
    ///
    /// Small tiles are made where they were asked for while a builder's core is free:
    /// handing a 60 µs village tile to a builder thread and waking the task again cost
    /// more in futexes and reschedule IPIs than the job (uncached island-wide villages, 16
    /// connections: 17.4–18.3 k tiles/s handed over, 18.8–19.7 k made inline). When the
    /// builders are all busy everything queues on them, as before: making small tiles
    /// inline then too put four threads on two cores and raised the z15 p99 from 9.4–12.6
    /// ms to 14.9–16.3 ms.
    pub async fn vector(&self, store: Arc<dyn Store>, key: TileKey, layers: Vec<String>, from_parts: bool, (z, x, y): (u8, u32, u32)) -> Result<Arc<CachedTile>, Problem> {
        if let Some(tile) = self.cache.get(&key) {
            return Ok(tile);
        }
        let features = tiles::features_to_read(&*store, &layers, z, x, y);
        let inline = self.builders.has_idle() && features <= INLINE_MAX_FEATURES;
        let class = self.builders.class(Cost { pixels: 0, features });
        let cache = self.cache.clone();
        let make = move || {
            if from_parts {
                composite(&*store, &cache, &layers, z, x, y)
            } else {
                tiles::vector_tile(&*store, &layers, z, x, y).map(CachedTile::new).map_err(Problem::from)
            }
        };
        if inline {
            let started = std::time::Instant::now();
            let tile = self.cache.make(key, make);
            self.builders.metrics().built_inline(BuildKind::VectorTile, started.elapsed());
            return tile;
        }
        self.built_on_builder(key, Work::new(BuildKind::VectorTile, class), make).await
    }

    /// Runs CPU-bound drawing (tiles, maps, plans) on one of the tile-builder threads, in
    /// its class's turn (`builders.rs`): a surge queues instead of time-slicing, and cheap
    /// work is not queued behind heavy work.
    pub async fn run<T: Send + 'static>(&self, work: Work, f: impl FnOnce(&Ticket) -> T + Send + 'static) -> Result<T, BuildError> {
        self.builders.run(work, f).await
    }
}

/// What a cached tile's build is, for the metrics.
fn build_kind(kind: &TileKind) -> BuildKind {
    match kind {
        TileKind::Mvt(_) | TileKind::MvtPart(_) => BuildKind::VectorTile,
        TileKind::Tiles3d(_) => BuildKind::Tiles3d,
        TileKind::TerrainRgb | TileKind::QuantizedMesh { .. } => BuildKind::Terrain,
        TileKind::Wmts { .. } => BuildKind::WmtsTile,
    }
}

/// The composite tile from its layers' parts — an MVT tile is a sequence of layers, so
/// concatenating the parts is the whole tile, and their deflate streams its gzip — each
/// part taken from the cache or built and kept. A write to one layer (an incident) then
/// rebuilds and compresses that layer's small part only, not the parcels and buildings
/// around it.
pub fn composite(store: &dyn Catalog, cache: &TileCache, layers: &[String], z: u8, x: u32, y: u32) -> Result<CachedTile, Problem> {
    let mut parts = Vec::with_capacity(layers.len());
    for layer in layers {
        let key = TileKey::new(TileKind::mvt_part(layer), z, x, y);
        let part = match cache.get(&key) {
            Some(part) => part,
            None => cache.make(key, || tiles::vector_tile(store, std::slice::from_ref(layer), z, x, y).map(CachedTile::part).map_err(Problem::from))?,
        };
        parts.push(part);
    }
    Ok(CachedTile::from_parts(&parts))
}
