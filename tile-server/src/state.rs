//! What every handler shares: the store, the tile service (cache and builders), the
//! decoded-raster caches, the renderer and fonts, the seeded archives served beside the
//! store, the configuration in force, where the server is in its life, and the metrics.

use crate::builders::Builders;
use crate::cache::TileCache;
use crate::config::ServerConfig;
use crate::lifecycle::Lifecycle;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::services::archives::Archives;
use crate::services::invalidation;
use crate::services::plans::Plans;
use crate::services::tiles::TileService;
use arc_swap::ArcSwap;
use formosa_encoders::fonts::Fonts;
use formosa_encoders::render::imagery::ImageryCache;
use formosa_encoders::render::style::RenderStyle;
use formosa_encoders::render::Renderer;
use formosa_encoders::terrain::heights::ElevationCache;
use formosa_store::{Change, Store};
use std::sync::Arc;

/// The handle handlers get: one `Arc`, because axum clones the state for every request,
/// and cloning a dozen Arcs and moka handles was ~15 % of a warm tile's CPU (perf of the
/// warm z12–z16 benchmark: `AppState::clone`, `Cache::clone` and their drops).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    /// The tile cache and the builders: one thread per core draws every tile and map, so
    /// a surge queues instead of time-slicing dozens of builds at once, which kept every
    /// request slow; cheap work before heavy, clients in turn (see `builders.rs`).
    pub tiles: TileService,
    /// 3D Tiles plans per layer.
    pub plans: Plans,
    /// Per-client request rate limit (off while `rate_limit_per_s` is 0).
    pub limiter: RateLimiter,
    /// Committed live edits, to the change stream's subscribers.
    pub changes: tokio::sync::broadcast::Sender<Change>,
    /// Decoded elevation tiles for the terrain encoders.
    pub elevation: ElevationCache,
    /// Decoded imagery tiles for WMS/WMTS.
    pub imagery: ImageryCache,
    pub fonts: Fonts,
    /// styles/basemap.json, read once, for WMS and WMTS.
    pub renderer: Arc<Renderer>,
    /// Seeded PMTiles archives served as tile sets (`--archive NAME=SOURCE`), opened at start.
    pub archives: Arc<Archives>,
    /// The configuration in force: swapped whole on SIGHUP (`reload.rs`); read it with
    /// `config()`.
    pub config: ArcSwap<ServerConfig>,
    /// Serving, draining or closing; the requests in flight.
    pub lifecycle: Lifecycle,
    /// Prometheus metrics served at /metrics.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// The shared state over `store`. Subscribes to the store's edits: each committed edit
    /// drops the tiles it touches, then goes out on the change feed.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        let fonts = Fonts::load(&config.fonts);
        let metrics = Arc::new(Metrics::new());
        let cache = TileCache::counted(config.cache_mb * 1024 * 1024, metrics.cache.clone());
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let tiles = TileService::new(cache.clone(), Arc::new(Builders::new(cores, config.build_limits(), metrics.builds.clone())));
        let style_path = config.styles_dir.join("basemap.json");
        let style = RenderStyle::load(&style_path).unwrap_or_else(|e| {
            tracing::error!("WMS/WMTS maps will be empty: {e}");
            RenderStyle { name: "none".into(), layers: Vec::new() }
        });
        let renderer = Arc::new(Renderer::new(style, &fonts));
        let changes = tokio::sync::broadcast::channel(1024).0;
        let feed = changes.clone();
        let counted = metrics.clone();
        store.subscribe(invalidation::listener(cache, Arc::downgrade(&store), move |c, dropped| {
            counted.live.change_applied(&c.op);
            counted.live.tiles_invalidated.inc_by(dropped as u64);
            let _ = feed.send(c.clone());
        }));
        AppState(Arc::new(Shared {
            store,
            tiles,
            plans: Plans::default(),
            changes,
            elevation: ElevationCache::new(256),
            imagery: ImageryCache::new(512),
            fonts,
            renderer,
            archives: Arc::default(),
            limiter: RateLimiter::default(),
            config: ArcSwap::from_pointee(config),
            lifecycle: Lifecycle::default(),
            metrics,
        }))
    }

    /// The configuration in force now. One atomic load (no lock), cheap enough for every
    /// request; a reload during the request does not change what the guard holds.
    pub fn config(&self) -> arc_swap::Guard<Arc<ServerConfig>> {
        self.0.config.load()
    }

    /// The state serving these archives too.
    pub fn with_archives(mut self, archives: Archives) -> Self {
        Arc::get_mut(&mut self.0).expect("archives are added before the state is shared").archives = Arc::new(archives);
        self
    }
}
