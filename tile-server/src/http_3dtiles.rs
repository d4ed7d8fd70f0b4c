//! HTTP for 3D Tiles: `/3dtiles/{layer}/tileset.json` and `/3dtiles/{layer}/{z}/{x}/{y}.glb`
//! for buildings and pipelines layers. A layer's tiling is planned on first request and
//! kept until the layer is re-imported; GLB content goes through the tile cache.

use crate::cache::{respond, TileKey};
use crate::http_tiles::cached_or_made;
use crate::problem::Problem;
use crate::server::AppState;
use crate::tiles3d::{Plan, Tiles3dError};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Plans by (layer, import time): a re-import gets a new plan.
#[derive(Clone, Default)]
pub struct Plans(Arc<Mutex<HashMap<(String, String), Arc<Plan>>>>);

impl From<Tiles3dError> for Problem {
    fn from(e: Tiles3dError) -> Self {
        match e {
            Tiles3dError::UnknownLayer(_) | Tiles3dError::NoSuchTile { .. } => Problem::not_found(e.to_string()),
            Tiles3dError::Store(e) => Problem::internal(e.to_string()),
        }
    }
}

async fn plan(s: &AppState, layer: &str) -> Result<Arc<Plan>, Problem> {
    let l = s.store.layer(layer).ok_or_else(|| Problem::from(Tiles3dError::UnknownLayer(layer.into())))?;
    let key = (layer.to_string(), l.info.imported_at.clone());
    if let Some(p) = s.plans.0.lock().unwrap().get(&key) {
        return Ok(p.clone());
    }
    let (store, elevation, geoid, name, plans) = (s.store.clone(), s.elevation.clone(), s.config.geoid_undulation_m, layer.to_string(), s.plans.clone());
    crate::http_tiles::on_tile_builder(s, move || {
        // Made by a request that reached a builder before us?
        if let Some(p) = plans.0.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let started = std::time::Instant::now();
        let plan = Arc::new(Plan::make(&store, &elevation, &name, geoid)?);
        tracing::info!("3D Tiles plan for '{name}': {} features in {} content tiles, {:.2} s", plan.feature_count(), plan.content_tiles().len(), started.elapsed().as_secs_f64());
        plans.0.lock().unwrap().insert(key, plan.clone());
        Ok(plan)
    })
    .await?
}

pub async fn tileset(State(s): State<AppState>, Path((layer, file)): Path<(String, String)>) -> Result<Response, Problem> {
    if file != "tileset.json" {
        return Err(Problem::not_found(format!("no resource /3dtiles/{layer}/{file}; the tileset is /3dtiles/{layer}/tileset.json")));
    }
    let plan = plan(&s, &layer).await?;
    Ok(([(header::CACHE_CONTROL, "no-cache")], axum::Json(plan.tileset())).into_response())
}

pub async fn content(State(s): State<AppState>, headers: HeaderMap, Path((layer, z, x, y)): Path<(String, String, String, String)>) -> Result<Response, Problem> {
    let (z, x, y) = crate::http_tiles::parse_tile(&z, &x, &y, &[".glb"])?;
    let plan = plan(&s, &layer).await?;
    let key = TileKey { kind: format!("3dtiles:{layer}"), z, x, y };
    let (store, elevation, geoid) = (s.store.clone(), s.elevation.clone(), s.config.geoid_undulation_m);
    let tile = cached_or_made(&s, key, false, move || plan.content(&store, &elevation, geoid, (z, x, y)).map_err(Problem::from)).await?;
    Ok(respond(&tile, "model/gltf-binary", &headers))
}
