//! HTTP for 3D Tiles: `/3dtiles/{layer}/tileset.json` and `/3dtiles/{layer}/{z}/{x}/{y}.glb`
//! for buildings and pipelines layers. A layer's tiling is planned on first request and
//! kept until the layer is re-imported (`services/plans.rs`); GLB content goes through
//! the tile cache.

use crate::cache::{respond, TileKey, TileKind};
use crate::http::parse_tile;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;

pub async fn tileset(State(s): State<AppState>, headers: HeaderMap, Path((layer, file)): Path<(String, String)>) -> Result<Response, Problem> {
    if file != "tileset.json" {
        return Err(Problem::not_found(format!("no resource /3dtiles/{layer}/{file}; the tileset is /3dtiles/{layer}/tileset.json")));
    }
    let tileset = s.plans.tileset(&s.store, &s.tiles, &s.elevation, s.config().geoid_undulation_m, &layer).await?;
    // Revalidated on every use (a re-import changes it): 304 while the ETag holds.
    let mut response = respond(&tileset, "application/json", &headers);
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    Ok(response)
}

pub async fn content(State(s): State<AppState>, headers: HeaderMap, Path((layer, z, x, y)): Path<(String, String, String, String)>) -> Result<Response, Problem> {
    let (z, x, y) = parse_tile(&z, &x, &y, &[".glb"])?;
    let plan = s.plans.get(&s.store, &s.tiles, &s.elevation, s.config().geoid_undulation_m, &layer).await?;
    let key = TileKey::new(TileKind::tiles3d(&layer), z, x, y);
    let (store, elevation, geoid) = (s.store.clone(), s.elevation.clone(), s.config().geoid_undulation_m);
    let tile = s.tiles.cached_or_made(key, false, move || plan.content(&*store, &elevation, geoid, (z, x, y)).map_err(Problem::from)).await?;
    Ok(respond(&tile, "model/gltf-binary", &headers))
}
