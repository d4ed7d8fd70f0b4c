//! SIGHUP: the configuration file read again and put in force without dropping a
//! connection. Settings read per request (limits, the write token, CORS origins, the
//! request timeout, and whatever else the handlers read through `config()`) follow at
//! the next request; a new `cache_mb` replaces the tile cache with an empty one of the new
//! size. Settings read once at start are listed in `RESTART`: a change to one is logged
//! and the running value kept. A file that does not parse changes nothing.

use crate::config::ServerConfig;
use crate::state::AppState;
use std::sync::Arc;

/// Reads the configuration file again, as the binary read it at start (its flags
/// applied): the server does not know where the file is or which flags were given.
pub type Reload = Box<dyn Fn() -> Result<ServerConfig, String> + Send + Sync>;

/// `[server]` fields that take effect only at a restart: the socket, the files read at
/// start (style, viewer, fonts, archives), what is loaded into memory at start, and the
/// geoid offset (already baked into cached terrain and 3D Tiles plans).
pub const RESTART: &[&str] = &["bind", "styles_dir", "viewer_dir", "fonts", "features_in_memory", "geoid_undulation_m", "archives"];

/// What the environment says over the file: FORMOSA_WRITE_TOKEN replaces `write_token`.
pub fn with_environment(mut config: ServerConfig) -> ServerConfig {
    if let Ok(token) = std::env::var("FORMOSA_WRITE_TOKEN") {
        config.write_token = Some(token);
    }
    config
}

/// What a reload did.
#[derive(Debug, Default, PartialEq)]
pub struct Applied {
    /// Settings now in force with their new values.
    pub changed: Vec<String>,
    /// Settings changed in the file that keep their running values until a restart.
    pub need_restart: Vec<String>,
}

/// Puts `new` in force (restart-only fields excepted) and logs what changed.
pub fn apply(state: &AppState, new: ServerConfig) -> Applied {
    let old = state.config();
    let (new, applied) = merge(&old, with_environment(new));
    let resize = (old.cache_mb != new.cache_mb).then_some(new.cache_mb);
    // The scheduler's limits apply to builds queued from now on.
    state.tiles.builders().set_limits(new.build_limits());
    state.config.store(Arc::new(new));
    if let Some(mb) = resize {
        state.tiles.cache.resize(mb * 1024 * 1024);
        tracing::info!("tile cache: {} MiB → {mb} MiB, started empty (moka cannot resize a cache in place); tiles are made again as asked", old.cache_mb);
    }
    if !applied.need_restart.is_empty() {
        tracing::warn!("configuration reloaded, but {} changed and need a restart; still running with the values from the start", applied.need_restart.join(", "));
    }
    if applied.changed.is_empty() {
        tracing::info!("configuration reloaded: nothing to change");
    } else {
        tracing::info!("configuration reloaded: {} in force", applied.changed.join(", "));
    }
    applied
}

/// `new` with `old`'s restart-only values, and the names of what differs.
fn merge(old: &ServerConfig, mut new: ServerConfig) -> (ServerConfig, Applied) {
    let mut applied = Applied::default();
    let (a, b) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(&new).unwrap_or_default());
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (field, value) in b {
            if a.get(field) != Some(value) {
                let list = if RESTART.contains(&field.as_str()) { &mut applied.need_restart } else { &mut applied.changed };
                list.push(field.clone());
            }
        }
    }
    // Not serialised, so that no log or diff can show it; compared here.
    if old.write_token != new.write_token {
        applied.changed.push("write_token".into());
    }
    new.bind = old.bind.clone();
    new.styles_dir = old.styles_dir.clone();
    new.viewer_dir = old.viewer_dir.clone();
    new.fonts = old.fonts.clone();
    new.features_in_memory = old.features_in_memory;
    new.geoid_undulation_m = old.geoid_undulation_m;
    new.archives = old.archives.clone();
    (new, applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_only_fields_keep_their_running_values_and_the_rest_is_taken() {
        let old = ServerConfig { write_token: Some("old".into()), ..ServerConfig::default() };
        let new = ServerConfig {
            bind: "0.0.0.0:1".into(),
            fonts: vec![],
            max_map_size: 512,
            write_token: Some("new".into()),
            cors_origins: vec!["https://a.example".into()],
            ..ServerConfig::default()
        };
        let (merged, applied) = merge(&old, new);
        assert_eq!(applied.need_restart, ["bind", "fonts"]);
        assert_eq!(applied.changed, ["cors_origins", "max_map_size", "write_token"]);
        assert_eq!((merged.bind.as_str(), merged.fonts.len()), (old.bind.as_str(), old.fonts.len()));
        assert_eq!((merged.max_map_size, merged.write_token.as_deref()), (512, Some("new")));
        assert_eq!(merge(&old, old.clone()).1, Applied::default());
    }

    #[test]
    fn every_restart_field_is_a_field() {
        let fields = serde_json::to_value(ServerConfig::default()).unwrap();
        for f in RESTART {
            assert!(fields.get(f).is_some(), "{f} is not a [server] field");
        }
    }
}
