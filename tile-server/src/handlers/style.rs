//! `/styles/{name}.json`: the MapLibre styles of `styles/`, with `formosa://` URLs made
//! absolute for the requesting origin, and terrain layers dropped when the store has none.

use crate::http::base_url;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use formosa_encoders::labels::label_layer;
use formosa_encoders::tiles::basemap_layers;
use serde_json::Value;

pub async fn style(State(s): State<AppState>, headers: HeaderMap, Path(file): Path<String>) -> Result<Response, Problem> {
    let name = file.strip_suffix(".json").unwrap_or(&file);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Problem::not_found(format!("no style '{file}'; the base map is /styles/basemap.json")));
    }
    let path = s.config().styles_dir.join(format!("{name}.json"));
    let text = tokio::fs::read_to_string(&path).await.map_err(|_| Problem::not_found(format!("no style '{name}'; the base map is /styles/basemap.json")))?;
    let origin = format!("{}/", base_url(&headers));
    let mut style: Value = serde_json::from_str(&text.replace("formosa://", &origin)).map_err(|e| Problem::internal(format!("style {} is not valid JSON: {e}", path.display())))?;
    if s.store.terrain().is_none() {
        drop_source(&mut style, "terrain");
    }
    // Layers drawing store layers this deployment does not have would make MapLibre
    // report errors; leave them out.
    let present = basemap_layers(&*s.store);
    if let Some(layers) = style.get_mut("layers").and_then(Value::as_array_mut) {
        layers.retain(|l| match l.get("source-layer").and_then(Value::as_str) {
            Some(sl) => present.iter().any(|p| p == sl || label_layer(p) == sl),
            None => true,
        });
    }
    Ok(([(header::CACHE_CONTROL, "no-cache")], axum::Json(style)).into_response())
}

/// Removes a source and every layer that draws from it.
fn drop_source(style: &mut Value, source: &str) {
    if let Some(sources) = style.get_mut("sources").and_then(Value::as_object_mut) {
        sources.remove(source);
    }
    if let Some(layers) = style.get_mut("layers").and_then(Value::as_array_mut) {
        layers.retain(|l| l.get("source").and_then(Value::as_str) != Some(source));
    }
}
