//! The configuration file (formosa.toml) and its defaults. Command-line flags override it.

use formosa_tile_server::config::ServerConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "formosa.toml";
pub const DEFAULT_STORE: &str = "data/formosa.gpkg";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The store: a GeoPackage file path, or a postgresql:// URL.
    pub store: String,
    /// A streaming replica of a PostgreSQL store to read from (writes and the change
    /// feed stay on `store`).
    pub read_store: Option<String>,
    pub server: ServerConfig,
    pub import: ImportConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Storey height used for buildings that give floors but no height (metres).
    pub storey_height_m: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { store: DEFAULT_STORE.into(), read_store: None, server: ServerConfig::default(), import: ImportConfig::default() }
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
        toml::from_str(&text).map_err(|e| match e.span() {
            Some(span) => {
                let (line, column) = line_and_column(&text, span.start);
                format!("config {}:{line}:{column}: {}", path.display(), e.message())
            }
            None => format!("config {}: {}", path.display(), e.message()),
        })
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_keep_defaults_and_typos_are_refused() {
        let c: Config = toml::from_str("store = \"x.gpkg\"\n[server]\nbind = \"0.0.0.0:9000\"\n").unwrap();
        assert_eq!(c.store, "x.gpkg");
        assert_eq!(c.server.bind, "0.0.0.0:9000");
        assert_eq!(c.import.storey_height_m, 3.3);
        assert!(toml::from_str::<Config>("[server]\nbnid = \"x\"\n").is_err());
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("formosa.toml");
        std::fs::write(&path, "[server]\nbind = \"127.0.0.1:1\"\nwrite_token = \"unterminated\n").unwrap();
        let e = Config::load(Some(&path)).unwrap_err();
        assert!(e.starts_with(&format!("config {}:3:", path.display())), "{e}");
    }
}
