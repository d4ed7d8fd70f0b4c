//! The server's own resources: `/` (the viewer, or a page listing the layers), `/health`
//! (alive), `/ready` (worth sending work to), `/catalog` (layers and seeded archives), and
//! SDF glyphs for labels at `/fonts/`.

use crate::metrics::Now;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use formosa_encoders::fonts::FontError;
use formosa_encoders::markup::escape_html;
use serde_json::json;

/// `/health`: layers, how many feature layers have their rows in memory, the store, and
/// whether it is reachable ("degraded" with the reason when not: the node then serves
/// what it holds and refuses writes; balancers should keep sending it reads).
pub async fn health(State(s): State<AppState>) -> Response {
    let layers = s.store.layers();
    let feature_layers = layers.iter().filter(|l| l.feature_kind().is_some()).count();
    let in_memory = layers.iter().filter(|l| s.store.rows_in_memory(&l.name)).count();
    let trouble = s.store.degraded();
    Json(json!({
        "status": if trouble.is_some() { "degraded" } else { "ok" },
        "reason": trouble,
        "layers": layers.len(),
        "feature_layers": feature_layers,
        "feature_layers_in_memory": in_memory,
        "store": s.store.location(),
    }))
    .into_response()
}

/// `/metrics`: Prometheus text exposition (see `metrics.rs` and the README's scrape
/// configuration).
pub async fn metrics(State(s): State<AppState>) -> Response {
    let state = s.clone();
    let text = tokio::task::spawn_blocking(move || {
        let (cache_bytes, cache_entries) = state.tiles.cache.size();
        let now = Now { queued: state.tiles.queued(), cache_bytes, cache_entries, subscribers: state.changes.receiver_count() };
        state.metrics.render(now, state.store.as_ref())
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], text).into_response()
}

/// `/ready`: whether a balancer should send this node work — serving, not draining, and
/// the store reachable. Otherwise 503 with Retry-After and why. `/health` stays 200 while
/// the process lives (liveness); this is the one to check from HAProxy or Kubernetes.
pub async fn ready(State(s): State<AppState>) -> Response {
    if s.lifecycle.draining() {
        return Problem::unavailable("draining: shutting down", 5).into_response();
    }
    if let Some(reason) = s.store.degraded() {
        return Problem::unavailable(format!("the store cannot be reached: {reason}"), 5).into_response();
    }
    Json(json!({ "status": "ready", "store": s.store.location(), "layers": s.store.layers().len() })).into_response()
}

/// Every layer with its kind, extent (lon/lat), count, source and import time; and the
/// seeded archives served beside them (tile type, compression, zooms, bounds, source).
pub async fn catalog(State(s): State<AppState>) -> Response {
    let layers = s.store.layers();
    let archives: Vec<serde_json::Value> = s
        .archives
        .iter()
        .map(|a| {
            let i = a.info();
            json!({
                "name": a.name,
                "source": a.location.display(),
                "tile_type": format!("{:?}", i.tile_type).to_ascii_lowercase(),
                "compression": format!("{:?}", i.compression).to_ascii_lowercase(),
                "minzoom": i.min_zoom,
                "maxzoom": i.max_zoom,
                "bounds": i.bounds,
                "tiles": i.addressed_tiles,
                "tilejson": format!("/archives/{}.json", a.name),
            })
        })
        .collect();
    Json(json!({ "layers": layers, "archives": archives })).into_response()
}

/// SDF glyphs for labels: `/fonts/{fontstack}/{start}-{end}.pbf`.
pub async fn glyphs(State(s): State<AppState>, Path((fontstack, range)): Path<(String, String)>) -> Result<Response, Problem> {
    let range = range.strip_suffix(".pbf").unwrap_or(&range).to_string();
    let fonts = s.fonts.clone();
    let result = tokio::task::spawn_blocking(move || fonts.range(&fontstack, &range)).await.map_err(|e| Problem::internal(e.to_string()))?;
    match result {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "application/x-protobuf"), (header::CACHE_CONTROL, "public, max-age=86400")], bytes).into_response()),
        Err(e @ FontError::BadRange(_)) => Err(Problem::new(axum::http::StatusCode::BAD_REQUEST, e.to_string())),
        Err(e @ FontError::UnknownFont { .. }) => Err(Problem::not_found(e.to_string())),
        Err(e) => Err(Problem::internal(e.to_string())),
    }
}

/// The viewer's icon (`web-viewer/favicon.ico`), which browsers ask for on every page.
pub async fn favicon(State(s): State<AppState>) -> Result<Response, Problem> {
    let path = s.config().viewer_dir.join("favicon.ico");
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "image/x-icon"), (header::CACHE_CONTROL, "public, max-age=86400")], bytes).into_response()),
        Err(_) => Err(Problem::not_found(format!("no favicon.ico in the viewer folder {}", s.config().viewer_dir.display()))),
    }
}

/// The web viewer when it is installed, else a plain page listing the layers.
pub async fn index(State(s): State<AppState>) -> Response {
    let page = s.config().viewer_dir.join("index.html");
    match tokio::fs::read_to_string(&page).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
        Err(_) => landing(&s),
    }
}

fn landing(s: &AppState) -> Response {
    let mut rows = String::new();
    for i in s.store.layers() {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&i.name),
            escape_html(&i.kind),
            i.feature_count,
            escape_html(&i.source_crs),
            escape_html(&i.imported_at)
        ));
    }
    let page = format!(
        "<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\"><title>Formosa 國家共通底圖</title><link rel=\"icon\" href=\"/favicon.ico\"></head>\
         <body><h1>Formosa — 國家共通底圖</h1><p>Endpoints: <a href=\"/catalog\">/catalog</a>, <a href=\"/health\">/health</a></p>\
         <table border=\"1\"><tr><th>layer</th><th>kind</th><th>features / tiles</th><th>source CRS</th><th>imported</th></tr>{rows}</table></body></html>"
    );
    ([(header::CACHE_CONTROL, "no-cache")], Html(page)).into_response()
}
