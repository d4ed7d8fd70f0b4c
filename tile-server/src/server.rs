//! The HTTP router. Handlers are thin: parse the request, ask the store or an encoder,
//! set headers. Every error is a JSON problem (or, for OGC services, an exception report).

use crate::cache::TileCache;
use crate::fonts::{FontError, Fonts};
use crate::problem::Problem;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use formosa_store::Store;
use serde_json::json;
use std::sync::Arc;
use tower_http::cors::CorsLayer;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub tiles: TileCache,
    pub fonts: Fonts,
}

/// Default byte budget of the tile cache.
pub const DEFAULT_CACHE_BYTES: u64 = 512 * 1024 * 1024;

pub fn router(store: Arc<Store>) -> Router {
    let fonts = Fonts::load(&[std::path::PathBuf::from(crate::fonts::DEFAULT_FONT)]);
    router_with(AppState { store, tiles: TileCache::new(DEFAULT_CACHE_BYTES), fonts })
}

pub fn router_with(state: AppState) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/health", get(health))
        .route("/catalog", get(catalog))
        .route("/tiles", get(crate::http_tiles::catalog))
        .route("/tiles/{file}", get(crate::http_tiles::tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(crate::http_tiles::tile))
        .route("/fonts/{fontstack}/{range}", get(glyphs))
        .fallback(not_found)
        .layer(CorsLayer::permissive())
        .with_state(state)
}

async fn health(State(s): State<AppState>) -> Response {
    let layers = s.store.layers().len();
    Json(json!({ "status": "ok", "layers": layers, "store": s.store.path().display().to_string() })).into_response()
}

/// Every layer with its kind, extent (lon/lat), count, source and import time.
async fn catalog(State(s): State<AppState>) -> Response {
    let layers: Vec<_> = s.store.layers().iter().map(|l| l.info.clone()).collect();
    Json(json!({ "layers": layers })).into_response()
}

/// SDF glyphs for labels: `/fonts/{fontstack}/{start}-{end}.pbf`.
async fn glyphs(State(s): State<AppState>, Path((fontstack, range)): Path<(String, String)>) -> Result<Response, Problem> {
    let range = range.strip_suffix(".pbf").unwrap_or(&range).to_string();
    let fonts = s.fonts.clone();
    let result = tokio::task::spawn_blocking(move || fonts.range(&fontstack, &range)).await.map_err(|e| Problem::internal(e.to_string()))?;
    match result {
        Ok(bytes) => Ok((
            [(header::CONTENT_TYPE, "application/x-protobuf"), (header::CACHE_CONTROL, "public, max-age=86400")],
            bytes,
        )
            .into_response()),
        Err(e @ FontError::BadRange(_)) => Err(Problem::new(axum::http::StatusCode::BAD_REQUEST, e.to_string())),
        Err(e @ FontError::UnknownFont { .. }) => Err(Problem::not_found(e.to_string())),
        Err(e) => Err(Problem::internal(e.to_string())),
    }
}

async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no resource at {}; see /catalog for what this server publishes", uri.path()))
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn landing(State(s): State<AppState>) -> Response {
    let mut rows = String::new();
    for l in s.store.layers() {
        let i = &l.info;
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
        "<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\"><title>Formosa 國家共通底圖</title></head>\
         <body><h1>Formosa — 國家共通底圖</h1><p>Endpoints: <a href=\"/catalog\">/catalog</a>, <a href=\"/health\">/health</a></p>\
         <table border=\"1\"><tr><th>layer</th><th>kind</th><th>features / tiles</th><th>source CRS</th><th>imported</th></tr>{rows}</table></body></html>"
    );
    ([(header::CACHE_CONTROL, "no-cache")], Html(page)).into_response()
}

/// Binds and serves until Ctrl-C / SIGTERM.
pub async fn serve(store: Arc<Store>, bind: &str) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("serving {} layers from {} on http://{addr}/", store.layers().len(), store.path().display());
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

