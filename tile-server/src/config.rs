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
    /// Seeded PMTiles archives served at /archives/{name}/…: name → a file path, an
    /// http(s):// URL or s3://bucket/key (`[server.archives]`; `--archive NAME=SOURCE`
    /// adds or replaces one).
    pub archives: BTreeMap<String, String>,
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
            archives: BTreeMap::new(),
        }
    }
}
