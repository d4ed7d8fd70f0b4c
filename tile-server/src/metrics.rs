//! Prometheus metrics, served at `/metrics` in the text exposition format: requests by
//! route class and status with latency histograms, the tile cache by tile kind, the
//! builders' queues, waits, build times, cancellations and refusals, live edits and
//! the tiles they dropped, the change stream's subscribers and delivery lag, hot
//! re-imports, imports running in other processes and how far they are, the store's
//! size and the process's RSS.
//!
//! One registry per server (not the crate's global one), so several servers in one
//! process (tests, the fuzzer) count apart. Counters on hot paths are resolved to their
//! label values once, at start: a labelled lookup hashes and locks on every call.

use crate::tile_key::TileKind;
use crate::work::{BuildKind, Class};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use std::time::{Duration, Instant};

/// Latency buckets, seconds: from a cached tile (sub-millisecond) to a 4096² map.
const SECONDS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric")
}

fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(SECONDS.to_vec()), labels).expect("a valid metric")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric")
}

fn register(registry: &Registry, metric: impl prometheus::core::Collector + Clone + 'static) {
    registry.register(Box::new(metric)).expect("metric names are unique");
}

/// The builders' side: queue waits by class, build times by kind, and the jobs that
/// did not run to their end.
pub struct BuildMetrics {
    wait: HistogramVec,
    wait_by_class: [Histogram; 2],
    build: HistogramVec,
    build_by_kind: Vec<Histogram>,
    inline: IntCounter,
    cancelled: IntCounterVec,
    timed_out: IntCounterVec,
    refused: IntCounterVec,
    queue_depth: IntGaugeVec,
}

impl BuildMetrics {
    /// Metrics that count but are in no registry (unit tests of the builders).
    pub fn detached() -> BuildMetrics {
        let wait = histogram_vec("formosa_build_wait_seconds", "Time a build waited for a builder, by class of work.", &["class"]);
        let build = histogram_vec("formosa_build_seconds", "Time a build took on a builder (or inline), by kind of tile or map.", &["kind"]);
        BuildMetrics {
            wait_by_class: Class::ALL.map(|c| wait.with_label_values(&[c.name()])),
            build_by_kind: BuildKind::ALL.iter().map(|k| build.with_label_values(&[k.name()])).collect(),
            wait,
            build,
            inline: IntCounter::new("formosa_builds_inline_total", "Small vector tiles made on the requesting task while a builder was idle.").expect("a valid metric"),
            cancelled: counter_vec(
                "formosa_builds_cancelled_total",
                "Builds dropped because their client went away: before they started (queued) or while drawing (running).",
                &["class", "stage"],
            ),
            timed_out: counter_vec("formosa_builds_timed_out_total", "Builds stopped at their time limit (WMS maps: max_render_time_s).", &["kind"]),
            refused: counter_vec(
                "formosa_builds_refused_total",
                "Builds refused with 503: the class's queue was full, the wait expected for a builder was over max_queue_wait_ms, or the client had its share of heavy work.",
                &["class", "reason"],
            ),
            queue_depth: gauge_vec("formosa_build_queue_depth", "Builds waiting for a builder, by class of work.", &["class"]),
        }
    }

    fn registered(registry: &Registry) -> BuildMetrics {
        let m = BuildMetrics::detached();
        // Every known series from the start at 0, so that rates and alerts see them
        // before the first event.
        for class in Class::ALL {
            for stage in ["queued", "running"] {
                m.cancelled.with_label_values(&[class.name(), stage]);
            }
            for reason in ["queue_full", "expected_wait", "client_share"] {
                m.refused.with_label_values(&[class.name(), reason]);
            }
        }
        for kind in BuildKind::ALL {
            m.timed_out.with_label_values(&[kind.name()]);
        }
        register(registry, m.wait.clone());
        register(registry, m.build.clone());
        register(registry, m.inline.clone());
        register(registry, m.cancelled.clone());
        register(registry, m.timed_out.clone());
        register(registry, m.refused.clone());
        register(registry, m.queue_depth.clone());
        m
    }

    pub fn waited(&self, class: Class, d: Duration) {
        self.wait_by_class[class as usize].observe(d.as_secs_f64());
    }

    pub fn built(&self, kind: BuildKind, d: Duration) {
        self.build_by_kind[kind.index()].observe(d.as_secs_f64());
    }

    pub fn built_inline(&self, kind: BuildKind, d: Duration) {
        self.inline.inc();
        self.built(kind, d);
    }

    pub fn cancelled(&self, class: Class, stage: &str) {
        self.cancelled.with_label_values(&[class.name(), stage]).inc();
    }

    pub fn timed_out(&self, kind: BuildKind) {
        self.timed_out.with_label_values(&[kind.name()]).inc();
    }

    pub fn refused(&self, class: Class, reason: &str) {
        self.refused.with_label_values(&[class.name(), reason]).inc();
    }

    pub fn refused_count(&self, class: Class, reason: &str) -> u64 {
        self.refused.with_label_values(&[class.name(), reason]).get()
    }

    pub fn cancelled_count(&self, class: Class, stage: &str) -> u64 {
        self.cancelled.with_label_values(&[class.name(), stage]).get()
    }

    pub fn timed_out_count(&self, kind: BuildKind) -> u64 {
        self.timed_out.with_label_values(&[kind.name()]).get()
    }
}

/// The tile cache's side, by tile kind.
pub struct CacheMetrics {
    hits: [IntCounter; TileKind::METRIC_NAMES.len()],
    misses: [IntCounter; TileKind::METRIC_NAMES.len()],
    evictions: IntCounterVec,
    bytes: IntGauge,
    entries: IntGauge,
    all: Vec<Box<dyn prometheus::core::Collector>>,
}

impl CacheMetrics {
    /// Metrics that count but are in no registry (a cache made on its own).
    pub fn detached() -> CacheMetrics {
        let hits = counter_vec("formosa_cache_hits_total", "Tile cache lookups answered from the cache, by tile kind.", &["kind"]);
        let misses = counter_vec("formosa_cache_misses_total", "Tile cache lookups that found nothing, by tile kind.", &["kind"]);
        let evictions = counter_vec(
            "formosa_cache_evictions_total",
            "Tiles leaving the cache, by tile kind and cause (size: the byte budget; explicit: edits and re-imports).",
            &["kind", "cause"],
        );
        let bytes = IntGauge::new("formosa_cache_bytes", "Bytes the tile cache holds (raw and compressed forms), as its weigher counts them.").expect("a valid metric");
        let entries = IntGauge::new("formosa_cache_entries", "Tiles in the tile cache.").expect("a valid metric");
        CacheMetrics {
            hits: TileKind::METRIC_NAMES.map(|k| hits.with_label_values(&[k])),
            misses: TileKind::METRIC_NAMES.map(|k| misses.with_label_values(&[k])),
            all: vec![Box::new(hits), Box::new(misses), Box::new(evictions.clone()), Box::new(bytes.clone()), Box::new(entries.clone())],
            evictions,
            bytes,
            entries,
        }
    }

    fn registered(registry: &Registry) -> CacheMetrics {
        let mut m = CacheMetrics::detached();
        for kind in TileKind::METRIC_NAMES {
            for cause in ["size", "explicit"] {
                m.evictions.with_label_values(&[kind, cause]);
            }
        }
        for c in std::mem::take(&mut m.all) {
            registry.register(c).expect("metric names are unique");
        }
        m
    }

    pub fn lookup(&self, kind: &TileKind, hit: bool) {
        let i = kind.metric_index();
        if hit { &self.hits[i] } else { &self.misses[i] }.inc();
    }

    pub fn evicted(&self, kind: &TileKind, cause: &str) {
        self.evictions.with_label_values(&[TileKind::METRIC_NAMES[kind.metric_index()], cause]).inc();
    }

    pub fn set_size(&self, bytes: u64, entries: u64) {
        self.bytes.set(bytes as i64);
        self.entries.set(entries as i64);
    }
}

/// Requests by route class and status, and their latency.
struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

/// Live edits, what they dropped, and the change stream.
pub struct LiveMetrics {
    changes: IntCounterVec,
    pub tiles_invalidated: IntCounter,
    pub reimports: IntCounter,
    pub sse_events: IntCounter,
    pub sse_missed: IntCounter,
    sse_lag: Histogram,
    sse_subscribers: IntGauge,
}

impl LiveMetrics {
    /// A committed change applied here (this node's write or another's, from the feed).
    pub fn change_applied(&self, op: &str) {
        self.changes.with_label_values(&[op]).inc();
    }

    /// An event sent on the stream, for a change committed at `at` (RFC 3339).
    pub fn sse_sent(&self, at: &str) {
        self.sse_events.inc();
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) {
            let lag = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_microseconds().unwrap_or(0).max(0);
            self.sse_lag.observe(lag as f64 / 1e6);
        }
    }
}

/// What is measured when scraped rather than counted as it happens.
struct Gauges {
    store_bytes: IntGauge,
    rss_bytes: IntGauge,
    layer_features: IntGaugeVec,
    layers_in_memory: IntGauge,
    imports_running: IntGauge,
    import_rows_done: IntGaugeVec,
    import_rows_total: IntGaugeVec,
}

pub struct Metrics {
    registry: Registry,
    http: HttpMetrics,
    pub builds: std::sync::Arc<BuildMetrics>,
    pub cache: std::sync::Arc<CacheMetrics>,
    pub live: LiveMetrics,
    gauges: Gauges,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http = HttpMetrics {
            requests: counter_vec("formosa_http_requests_total", "HTTP requests answered, by route class and status code.", &["route", "status"]),
            duration: histogram_vec("formosa_http_request_duration_seconds", "Time to the response head, by route class.", &["route"]),
        };
        register(&registry, http.requests.clone());
        register(&registry, http.duration.clone());
        let sse_lag = Histogram::with_opts(
            HistogramOpts::new("formosa_sse_delivery_lag_seconds", "From a change's commit to its event going out on /changes/stream.").buckets(SECONDS.to_vec()),
        )
        .expect("a valid metric");
        let live = LiveMetrics {
            changes: counter_vec("formosa_changes_applied_total", "Committed edits applied by this node (its own and other nodes', from the feed), by operation.", &["op"]),
            tiles_invalidated: IntCounter::new("formosa_tiles_invalidated_total", "Cached tiles dropped by live edits.").expect("a valid metric"),
            reimports: IntCounter::new("formosa_reimports_total", "Layers re-imported by another process and swapped in while serving.").expect("a valid metric"),
            sse_events: IntCounter::new("formosa_sse_events_total", "Change events sent on /changes/stream, over all subscribers.").expect("a valid metric"),
            sse_missed: IntCounter::new("formosa_sse_lagged_total", "Times a slow subscriber fell so far behind that changes were skipped (it is told to fetch /changes).")
                .expect("a valid metric"),
            sse_lag,
            sse_subscribers: IntGauge::new("formosa_sse_subscribers", "Clients connected to /changes/stream.").expect("a valid metric"),
        };
        for op in ["insert", "update", "delete"] {
            live.changes.with_label_values(&[op]);
        }
        register(&registry, live.changes.clone());
        register(&registry, live.tiles_invalidated.clone());
        register(&registry, live.reimports.clone());
        register(&registry, live.sse_events.clone());
        register(&registry, live.sse_missed.clone());
        register(&registry, live.sse_lag.clone());
        register(&registry, live.sse_subscribers.clone());
        let gauges = Gauges {
            store_bytes: IntGauge::new("formosa_store_bytes", "Size of the store on disk (GeoPackage file and its WAL; 0 for PostgreSQL).").expect("a valid metric"),
            rss_bytes: IntGauge::new("formosa_process_resident_memory_bytes", "Resident set size of this process.").expect("a valid metric"),
            layer_features: gauge_vec("formosa_layer_features", "Features per feature layer.", &["layer"]),
            layers_in_memory: IntGauge::new("formosa_layers_in_memory", "Feature layers whose rows are held in memory.").expect("a valid metric"),
            imports_running: IntGauge::new("formosa_imports_running", "Imports running on this store, from any process (formosa import, publish).").expect("a valid metric"),
            import_rows_done: gauge_vec(
                "formosa_import_rows_done",
                "What a running import has done, in its source's units (features read; deepest-zoom tiles for terrain and imagery).",
                &["layer", "kind"],
            ),
            import_rows_total: gauge_vec("formosa_import_rows_total", "A running import's total in the same units, when its source declares one.", &["layer", "kind"]),
        };
        register(&registry, gauges.store_bytes.clone());
        register(&registry, gauges.rss_bytes.clone());
        register(&registry, gauges.layer_features.clone());
        register(&registry, gauges.layers_in_memory.clone());
        register(&registry, gauges.imports_running.clone());
        register(&registry, gauges.import_rows_done.clone());
        register(&registry, gauges.import_rows_total.clone());
        let builds = std::sync::Arc::new(BuildMetrics::registered(&registry));
        let cache = std::sync::Arc::new(CacheMetrics::registered(&registry));
        Metrics { registry, http, builds, cache, live, gauges }
    }

    /// The text exposition of every metric, after reading the ones measured on scrape:
    /// what the server holds (`now`) and the store.
    pub fn render(&self, now: Now, store: &dyn formosa_store::Store) -> String {
        for (class, n) in Class::ALL.iter().zip(now.queued) {
            self.builds.queue_depth.with_label_values(&[class.name()]).set(n as i64);
        }
        self.cache.set_size(now.cache_bytes, now.cache_entries);
        self.live.sse_subscribers.set(now.subscribers as i64);
        self.gauges.store_bytes.set(store_bytes(&store.location()) as i64);
        self.gauges.rss_bytes.set(resident_bytes() as i64);
        let layers = store.layers();
        self.gauges.layer_features.reset();
        for l in layers.iter().filter(|l| l.feature_kind().is_some()) {
            self.gauges.layer_features.with_label_values(&[&l.name]).set(l.feature_count as i64);
        }
        self.gauges.layers_in_memory.set(layers.iter().filter(|l| store.rows_in_memory(&l.name)).count() as i64);
        self.imports(store);
        prometheus::TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
}

/// What the server holds at a scrape: builds waiting by class, the tile cache's bytes and
/// tiles, the change stream's subscribers.
pub struct Now {
    pub queued: [usize; 2],
    pub cache_bytes: u64,
    pub cache_entries: u64,
    pub subscribers: usize,
}

impl Metrics {
    /// Imports in progress, as the store records them (a directory listing or one query).
    /// A store that cannot be read now leaves the last values: the scrape never fails
    /// for them, and a degraded database is not asked at all.
    fn imports(&self, store: &dyn formosa_store::Store) {
        if store.degraded().is_some() {
            return;
        }
        let running = match store.imports_in_progress() {
            Ok(running) => running,
            Err(e) => {
                tracing::debug!("imports in progress unknown: {e}");
                return;
            }
        };
        let g = &self.gauges;
        g.imports_running.set(running.len() as i64);
        g.import_rows_done.reset();
        g.import_rows_total.reset();
        for p in &running {
            g.import_rows_done.with_label_values(&[&p.layer, &p.kind]).set(p.rows_done as i64);
            if let Some(total) = p.rows_total {
                g.import_rows_total.with_label_values(&[&p.layer, &p.kind]).set(total as i64);
            }
        }
    }
}

/// The GeoPackage file and its write-ahead log; 0 for a database URL.
fn store_bytes(location: &str) -> u64 {
    let size = |p: String| std::fs::metadata(p).map_or(0, |m| m.len());
    if location.contains("://") {
        return 0;
    }
    size(location.to_string()) + size(format!("{location}-wal"))
}

/// VmRSS from /proc/self/status (Linux); 0 elsewhere.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()).map_or(0, |kb| kb * 1024)
}

/// The class of a route, the `route` label: few values, so dashboards can sum them.
fn route_class(method: &axum::http::Method, path: &str, query: Option<&str>) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "tiles" if path.ends_with(".mvt") || path.ends_with(".pbf") => "vector_tile",
        "tiles" => "tilejson",
        "wms" => {
            let q = query.unwrap_or("").to_ascii_lowercase();
            if q.contains("request=getmap") {
                "wms_map"
            } else if q.contains("request=getfeatureinfo") {
                "wms_feature_info"
            } else {
                "wms_other"
            }
        }
        "wmts" if path.ends_with(".png") || path.ends_with(".jpg") || path.ends_with(".webp") || query.unwrap_or("").to_ascii_lowercase().contains("request=gettile") => {
            "wmts_tile"
        }
        "wmts" => "wmts_other",
        "3dtiles" => "3dtiles",
        "terrain" | "terrain-rgb" => "terrain",
        "ogcapi" if method != axum::http::Method::GET && method != axum::http::Method::HEAD => "ogcapi_write",
        "ogcapi" => "ogcapi",
        "changes" if path.ends_with("/stream") => "change_stream",
        "changes" => "changes",
        "fonts" => "glyphs",
        "styles" => "style",
        "archives" => "archive",
        "" | "viewer" | "favicon.ico" => "viewer",
        "health" | "ready" | "metrics" | "catalog" => "ops",
        _ => "other",
    }
}

/// Middleware: counts each request by route class and status and times it to its head.
pub async fn observe(State(metrics): State<std::sync::Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Unrouted paths are all "other": the label never takes a client's path as a value.
    let matched = request.extensions().get::<MatchedPath>().is_some() || request.uri().path().starts_with("/viewer");
    let route = if matched || request.uri().path() == "/" { route_class(request.method(), request.uri().path(), request.uri().query()) } else { "other" };
    let response = next.run(request).await;
    let m = &metrics.http;
    m.requests.with_label_values(&[route, response.status().as_str()]).inc();
    m.duration.with_label_values(&[route]).observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_in_few_classes() {
        let get = axum::http::Method::GET;
        assert_eq!(route_class(&get, "/tiles/basemap/15/1/2.mvt", None), "vector_tile");
        assert_eq!(route_class(&get, "/tiles/basemap.json", None), "tilejson");
        assert_eq!(route_class(&get, "/wms", Some("SERVICE=WMS&REQUEST=GetMap&x=1")), "wms_map");
        assert_eq!(route_class(&get, "/wmts", Some("service=wmts&request=GetTile")), "wmts_tile");
        assert_eq!(route_class(&get, "/wmts/1.0.0/basemap/default/TWD97/3/1/2.png", None), "wmts_tile");
        assert_eq!(route_class(&axum::http::Method::POST, "/ogcapi/collections/incidents/items", None), "ogcapi_write");
        assert_eq!(route_class(&get, "/changes/stream", None), "change_stream");
    }
}
