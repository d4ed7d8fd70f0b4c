//! The server's part of the configuration file (`[server]` in formosa.toml) and its
//! defaults. Command-line flags override it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

// Serialize: a reload names the fields that changed by comparing both as JSON (`reload.rs`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: String,
    /// Byte budget of the in-memory tile cache, in MiB.
    pub cache_mb: u64,
    /// Folder of MapLibre styles served at /styles/.
    pub styles_dir: PathBuf,
    /// Folder of the web viewer served at / (with its node_modules).
    pub viewer_dir: PathBuf,
    /// Font files for label glyphs (TTF/OTF/TTC).
    pub fonts: Vec<PathBuf>,
    /// Keep every feature layer's rows in memory (read in the background at start-up;
    /// until then tiles read from the store file). About the store's size in RAM, for
    /// about twice the uncached tile throughput.
    pub features_in_memory: bool,
    /// Geoid undulation N added to the DEM's orthometric heights for the terrain
    /// encoders (ellipsoidal h = H + N). 20 m suits Taiwan's western plains and Taipei
    /// (EGM2008: about 17–22 m; up to ~28 m in the Central Range).
    pub geoid_undulation_m: f64,
    /// Bearer token for writes (incidents, pipeline status); FORMOSA_WRITE_TOKEN
    /// overrides it. Without one, writes are refused. Never serialised (logs, diffs).
    #[serde(skip_serializing)]
    pub write_token: Option<String>,
    /// Requests per second per client address (0: no limit), and the burst allowed.
    pub rate_limit_per_s: f64,
    pub rate_limit_burst: f64,
    /// Seconds a request may take before the server answers 408 (streams excepted).
    pub request_timeout_s: u64,
    /// After SIGTERM: seconds to keep accepting while `/ready` says draining (time for a
    /// balancer to stop sending), then seconds from the signal until the process exits
    /// even with requests still in flight (`docs/ARCHITECTURE.md`, "Lifecycle").
    pub shutdown_delay_s: f64,
    pub shutdown_grace_s: f64,
    /// Origins allowed by CORS; ["*"] allows any.
    pub cors_origins: Vec<String>,
    /// Largest WMS map, in pixels per side: larger requests get a ServiceException.
    pub max_map_size: u32,
    /// Longest a WMS map may draw for, in seconds (like GeoServer's maximum rendering
    /// time); past it the request gets a ServiceException. 0: no limit.
    pub max_render_time_s: f64,
    /// Builds drawing more pixels than this, or reading more features than
    /// `heavy_features`, are heavy: they never take the last free builder, so tiles are
    /// not queued behind them.
    pub heavy_pixels: u64,
    pub heavy_features: usize,
    /// Heavy builds waiting at most (over all clients), and heavy builds one client may
    /// have queued or running; beyond either, 503 with Retry-After.
    pub max_queued_heavy: usize,
    pub max_heavy_per_client: usize,
    /// Longest a tile (cheap work) may expect to wait for a builder, in milliseconds, from
    /// the build times of the work ahead of it; beyond it 503 with Retry-After rather than
    /// an answer seconds late. 0: no limit (queue up to 4,096 jobs).
    pub max_queue_wait_ms: u64,
    /// How long, in milliseconds, the expected wait must have stayed over
    /// `max_queue_wait_ms` before tiles are refused: a burst (a map's first load, a QGIS
    /// canvas) is queued and answered; only sustained overload is shed.
    pub overload_grace_ms: u64,
    /// Seeded PMTiles archives served at /archives/{name}/…: name → a file path, an
    /// http(s):// URL or s3://bucket/key (`[server.archives]`; `--archive NAME=SOURCE`
    /// adds or replaces one).
    pub archives: BTreeMap<String, String>,
}

impl ServerConfig {
    /// The builders' limits this configuration sets.
    pub fn build_limits(&self) -> crate::builders::Limits {
        crate::builders::Limits {
            heavy_pixels: self.heavy_pixels,
            heavy_features: self.heavy_features,
            max_queued_heavy: self.max_queued_heavy.max(1),
            max_heavy_per_client: self.max_heavy_per_client.max(1),
            max_queue_wait: (self.max_queue_wait_ms > 0).then(|| std::time::Duration::from_millis(self.max_queue_wait_ms)),
            overload_grace: std::time::Duration::from_millis(self.overload_grace_ms),
        }
    }

    /// The WMS render-time limit, if any.
    pub fn render_time_limit(&self) -> Option<std::time::Duration> {
        (self.max_render_time_s > 0.0 && self.max_render_time_s.is_finite()).then(|| std::time::Duration::from_secs_f64(self.max_render_time_s))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND.into(),
            cache_mb: 512,
            styles_dir: "styles".into(),
            viewer_dir: "web-viewer".into(),
            fonts: vec![formosa_encoders::fonts::DEFAULT_FONT.into()],
            features_in_memory: true,
            geoid_undulation_m: 20.0,
            write_token: None,
            rate_limit_per_s: 0.0,
            rate_limit_burst: 200.0,
            request_timeout_s: 30,
            shutdown_delay_s: 0.0,
            shutdown_grace_s: 25.0,
            cors_origins: vec!["*".into()],
            max_map_size: 4096,
            max_render_time_s: 20.0,
            heavy_pixels: 512 * 512,
            heavy_features: 50_000,
            max_queued_heavy: 64,
            max_heavy_per_client: 8,
            max_queue_wait_ms: 100,
            overload_grace_ms: 1000,
            archives: BTreeMap::new(),
        }
    }
}
