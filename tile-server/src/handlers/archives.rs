//! HTTP for seeded archives (`formosa serve --archive NAME=SOURCE`): `/archives`
//! (catalogue), `/archives/{name}.json` (TileJSON 3.0.0) and
//! `/archives/{name}/{z}/{x}/{y}.{ext}`, the archive's tile byte for byte.
//!
//! A tile the archive covers (its zooms and bounds) but does not hold was left out by the
//! seed as empty: a vector archive answers it as the live `/tiles` route answers an empty
//! tile (200, no body); anything else is a 404 problem. Reads that fail are 503 with
//! Retry-After (the storage is away) or 500 (the archive is damaged).

use crate::cache::{respond, respond_stored, CachedTile};
use crate::http::{base_url, parse_tile};
use crate::problem::Problem;
use crate::services::archives::{Archive, ArchiveError, ArchiveInfo};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pmtiles::TileType;
use serde_json::json;
use std::sync::Arc;

/// Seconds a client is asked to wait before trying an unreadable archive again.
const RETRY_AFTER_S: &str = "5";

/// `/archives`: every archive with its TileJSON.
pub async fn catalog(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let list: Vec<serde_json::Value> = s.archives.iter().map(|a| json!({ "id": a.name, "tilejson": format!("{base}/archives/{}.json", a.name) })).collect();
    Json(json!({ "archives": list })).into_response()
}

/// `/archives/{name}.json`: TileJSON 3.0.0 from the archive's header and metadata.
pub async fn tilejson(State(s): State<AppState>, headers: HeaderMap, Path(file): Path<String>) -> Result<Response, Problem> {
    let name = file.strip_suffix(".json").ok_or_else(|| Problem::not_found(format!("no resource /archives/{file}; TileJSON is at /archives/{{name}}.json")))?;
    let archive = find(&s, name)?;
    let i = archive.info();
    let base = base_url(&headers);
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": i.metadata.get("name").cloned().unwrap_or_else(|| json!(name)),
        "scheme": "xyz",
        "tiles": [format!("{base}/archives/{name}/{{z}}/{{x}}/{{y}}{}", extensions(i.tile_type)[0])],
        "minzoom": i.min_zoom,
        "maxzoom": i.max_zoom,
        "bounds": i.bounds,
        "center": [i.center.0, i.center.1, i.center.2],
    });
    for key in ["vector_layers", "attribution", "description", "version"] {
        if let Some(v) = i.metadata.get(key) {
            doc[key] = v.clone();
        }
    }
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(doc)).into_response())
}

/// `/archives/{name}/{z}/{x}/{y}.{ext}`: the stored tile.
pub async fn tile(State(s): State<AppState>, headers: HeaderMap, Path((name, z, x, y)): Path<(String, String, String, String)>) -> Result<Response, Problem> {
    let archive = find(&s, &name)?;
    let (z, x, y) = parse_tile(&z, &x, &y, extensions(archive.info().tile_type))?;
    let (stored, info) = match archive.tile(z, x, y).await {
        Ok(read) => read,
        Err(e) => return Ok(unreadable(e)),
    };
    let content_type = info.tile_type.content_type();
    match stored {
        Some(bytes) => respond_stored(bytes, info.compression.content_encoding(), content_type, &headers),
        None if info.tile_type == TileType::Mvt && info.covers(z, x, y) => Ok(respond(&CachedTile::precompressed(Vec::new()), content_type, &headers)),
        None => Err(not_held(&name, &info, z, x, y)),
    }
}

fn find<'a>(s: &'a AppState, name: &str) -> Result<&'a Arc<Archive>, Problem> {
    s.archives.get(name).ok_or_else(|| {
        let names: Vec<&str> = s.archives.iter().map(|a| a.name.as_str()).collect();
        Problem::not_found(format!("no archive named '{name}'; this server serves {}", if names.is_empty() { "none".to_string() } else { names.join(", ") }))
    })
}

/// The file extensions of a tile type, the first one in TileJSON.
fn extensions(t: TileType) -> &'static [&'static str] {
    match t {
        TileType::Mvt => &[".mvt", ".pbf"],
        TileType::Png => &[".png"],
        TileType::Jpeg => &[".jpg", ".jpeg"],
        TileType::Webp => &[".webp"],
        TileType::Avif => &[".avif"],
        TileType::Mlt => &[".mlt"],
        TileType::Unknown => &[".bin"],
    }
}

fn not_held(name: &str, i: &ArchiveInfo, z: u8, x: u32, y: u32) -> Problem {
    let [w, s, e, n] = i.bounds;
    Problem::not_found(format!("archive '{name}' holds no tile {z}/{x}/{y}; it was seeded for z{}–z{} over {w},{s},{e},{n}", i.min_zoom, i.max_zoom))
}

/// A failed read: 503 with Retry-After when the storage is away, 500 when the archive is damaged.
fn unreadable(e: ArchiveError) -> Response {
    match e {
        ArchiveError::Unavailable { .. } => {
            tracing::warn!("{e}");
            let mut r = Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
            r
        }
        ArchiveError::Damaged { .. } => {
            tracing::error!("{e}");
            Problem::internal(e.to_string()).into_response()
        }
    }
}
