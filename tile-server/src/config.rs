//! The configuration file (formosa.toml) and its defaults. Command-line flags override it.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "formosa.toml";
pub const DEFAULT_STORE: &str = "data/formosa.gpkg";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The store file (a GeoPackage).
    pub store: PathBuf,
    pub server: ServerConfig,
    pub import: ImportConfig,
}

#[derive(Debug, Clone, Deserialize)]
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
    /// overrides it. Without one, writes are refused.
    pub write_token: Option<String>,
    /// Requests per second per client address (0: no limit), and the burst allowed.
    pub rate_limit_per_s: f64,
    pub rate_limit_burst: f64,
    /// Seconds a request may take before the server answers 408 (streams excepted).
    pub request_timeout_s: u64,
    /// Origins allowed by CORS; ["*"] allows any.
    pub cors_origins: Vec<String>,
    /// Largest WMS map, in pixels per side: larger requests get a ServiceException.
    pub max_map_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Storey height used for buildings that give floors but no height (metres).
    pub storey_height_m: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { store: DEFAULT_STORE.into(), server: ServerConfig::default(), import: ImportConfig::default() }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND.into(),
            cache_mb: 512,
            styles_dir: "styles".into(),
            viewer_dir: "web-viewer".into(),
            fonts: vec![crate::fonts::DEFAULT_FONT.into()],
            features_in_memory: true,
            geoid_undulation_m: 20.0,
            write_token: None,
            rate_limit_per_s: 0.0,
            rate_limit_burst: 200.0,
            request_timeout_s: 30,
            cors_origins: vec!["*".into()],
            max_map_size: 4096,
        }
    }
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self { storey_height_m: 3.3 }
    }
}

impl Config {
    /// Reads `path` if given (it must exist), else ./formosa.toml if present, else defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) if !required => return Ok(Config::default()),
            Err(e) => return Err(format!("cannot read config {}: {e}", path.display())),
        };
        toml::from_str(&text).map_err(|e| format!("config {}: {}", path.display(), e.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_keep_defaults_and_typos_are_refused() {
        let c: Config = toml::from_str("store = \"x.gpkg\"\n[server]\nbind = \"0.0.0.0:9000\"\n").unwrap();
        assert_eq!(c.store, PathBuf::from("x.gpkg"));
        assert_eq!(c.server.bind, "0.0.0.0:9000");
        assert_eq!(c.import.storey_height_m, 3.3);
        assert!(toml::from_str::<Config>("[server]\nbnid = \"x\"\n").is_err());
    }
}
