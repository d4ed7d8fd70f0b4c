//! The HTTP router. Handlers are thin: parse the request, ask the store or an encoder,
//! set headers. Every error is a JSON problem (or, for OGC services, an exception report).

use crate::terrain::heights::ElevationCache;
use crate::cache::TileCache;
use crate::config::ServerConfig;
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
use tower_http::services::ServeDir;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub tiles: TileCache,
    /// 3D Tiles plans per layer.
    pub plans: crate::http_3dtiles::Plans,
    /// Per-client request rate limit, when configured.
    pub limiter: Option<Arc<crate::limits::RateLimiter>>,
    /// Committed live edits, to the change stream's subscribers.
    pub changes: tokio::sync::broadcast::Sender<formosa_store::Change>,
    /// Decoded elevation tiles for the terrain encoders.
    pub elevation: ElevationCache,
    /// Decoded imagery tiles for WMS/WMTS.
    pub imagery: crate::render::imagery::ImageryCache,
    /// One permit per core for making tiles: a surge queues (first come, first served)
    /// instead of time-slicing dozens of tile builds at once, which kept every request
    /// slow (p99 at z15 under 16 connections: see docs/ARCHITECTURE.md).
    pub tile_builders: Arc<crate::builders::Builders>,
    pub fonts: Fonts,
    /// styles/basemap.json, read once, for WMS and WMTS.
    pub renderer: Arc<crate::render::Renderer>,
    pub config: Arc<ServerConfig>,
}

impl AppState {
    pub fn new(store: Arc<Store>, config: ServerConfig) -> Self {
        let fonts = Fonts::load(&config.fonts);
        let tiles = TileCache::new(config.cache_mb * 1024 * 1024);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let tile_builders = Arc::new(crate::builders::Builders::new(cores));
        let limiter = (config.rate_limit_per_s > 0.0).then(|| Arc::new(crate::limits::RateLimiter::new(config.rate_limit_per_s, config.rate_limit_burst)));
        let style_path = config.styles_dir.join("basemap.json");
        let style = crate::render::style::RenderStyle::load(&style_path).unwrap_or_else(|e| {
            tracing::error!("WMS/WMTS maps will be empty: {e}");
            crate::render::style::RenderStyle { name: "none".into(), layers: Vec::new() }
        });
        let renderer = Arc::new(crate::render::Renderer::new(style, &fonts));
        AppState { store, tiles, limiter, plans: Default::default(), changes: tokio::sync::broadcast::channel(1024).0, elevation: ElevationCache::new(256), imagery: crate::render::imagery::ImageryCache::new(512), fonts, renderer, tile_builders, config: Arc::new(config) }
    }
}

pub fn router(state: AppState) -> Router {
    // Static files; what is not there, or not a GET, gets a JSON reason like everything else.
    let viewer = ServeDir::new(&state.config.viewer_dir)
        .call_fallback_on_method_not_allowed(true)
        .fallback(axum::handler::HandlerWithoutStateExt::into_service(static_fallback));
    // The change stream stays open for good: no timeout on it.
    let streams = Router::new().route("/changes/stream", get(crate::live::stream));
    let timeout = std::time::Duration::from_secs(state.config.request_timeout_s.max(1));
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/catalog", get(catalog))
        .route("/tiles", get(crate::http_tiles::catalog))
        .route("/tiles/{file}", get(crate::http_tiles::tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(crate::http_tiles::tile))
        .route("/fonts/{fontstack}/{range}", get(glyphs))
        .route("/styles/{file}", get(crate::http_style::style))
        .route("/terrain-rgb/{z}/{x}/{y}", get(crate::http_tiles::terrain_rgb))
        .route("/terrain/layer.json", get(crate::http_tiles::terrain_layer_json))
        .route("/3dtiles/{layer}/{file}", get(crate::http_3dtiles::tileset))
        .route("/ogcapi", get(crate::ogc_features::landing))
        .route("/ogcapi/conformance", get(crate::ogc_features::conformance))
        .route("/ogcapi/collections", get(crate::ogc_features::collections))
        .route("/ogcapi/collections/{id}", get(crate::ogc_features::collection))
        .route("/ogcapi/collections/{id}/items", get(crate::ogc_features::items).post(crate::live::create))
        .route(
            "/ogcapi/collections/{id}/items/{fid}",
            get(crate::ogc_features::item).put(crate::live::replace).patch(crate::live::patch).delete(crate::live::delete),
        )
        .route("/changes", get(crate::live::changes))
        .route("/wms", get(crate::ogc::wms::handle))
        .route("/wmts", get(crate::ogc::wmts::kvp))
        .route("/wmts/1.0.0/WMTSCapabilities.xml", get(crate::ogc::wmts::rest_capabilities))
        .route("/wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{file}", get(crate::ogc::wmts::rest_tile))
        .route("/wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{col}/{j}/{file}", get(crate::ogc::wmts::rest_info))
        .route("/3dtiles/{layer}/{z}/{x}/{y}", get(crate::http_3dtiles::content))
        .route("/terrain/{z}/{x}/{y}", get(crate::http_tiles::terrain_mesh))
        .nest_service("/viewer", viewer)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout))
        .merge(streams)
        .layer(axum::extract::DefaultBodyLimit::max(crate::live::MAX_BODY))
        .layer(axum::middleware::from_fn(refuse_unservable_paths))
        .layer(axum::middleware::map_response(crate::problem::rejections_as_problems))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::limits::rate_limit))
        .layer(cors(&state.config.cors_origins))
        .with_state(state)
}

/// CORS for the configured origins (any, with "*"); writes need Authorization.
fn cors(origins: &[String]) -> CorsLayer {
    use tower_http::cors::{AllowOrigin, Any};
    let layer = CorsLayer::new()
        .allow_methods([axum::http::Method::GET, axum::http::Method::HEAD, axum::http::Method::POST, axum::http::Method::PUT, axum::http::Method::PATCH, axum::http::Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_NONE_MATCH, "last-event-id".parse().expect("header name")])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER]);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        layer.allow_origin(AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok())))
    }
}

async fn health(State(s): State<AppState>) -> Response {
    let layers = s.store.layers();
    let feature_layers = layers.iter().filter(|l| l.info.feature_kind().is_some()).count();
    let in_memory = layers.iter().filter(|l| l.has_feature_table()).count();
    Json(json!({
        "status": "ok",
        "layers": layers.len(),
        "feature_layers": feature_layers,
        "feature_layers_in_memory": in_memory,
        "store": s.store.path().display().to_string(),
    }))
    .into_response()
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

/// Paths that name no resource and that the static file service answered with a bare 500
/// (both found by fuzzers): a NUL byte, and a segment longer than a file name can be
/// (ENAMETOOLONG). Refused before routing.
async fn refuse_unservable_paths(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    if path.to_ascii_lowercase().contains("%00") {
        return Problem::new(axum::http::StatusCode::BAD_REQUEST, "the path contains a NUL byte (%00)").into_response();
    }
    if let Some(long) = path.split('/').map(decoded_len).find(|n| *n > MAX_SEGMENT) {
        return Problem::new(axum::http::StatusCode::BAD_REQUEST, format!("a path segment is {long} bytes long; no resource here has a name longer than {MAX_SEGMENT}")).into_response();
    }
    next.run(req).await
}

/// The longest file name Linux allows (NAME_MAX).
const MAX_SEGMENT: usize = 255;

/// Bytes of a path segment once percent-decoded by the decoder the static file service
/// uses: `%XX` is one byte, a `%` not followed by two hex digits stays as it is.
fn decoded_len(segment: &str) -> usize {
    percent_encoding::percent_decode_str(segment).count()
}

async fn static_fallback(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        Problem::not_found(format!("no file at /viewer{}", uri.path()))
    } else {
        method_not_allowed(method, uri).await
    }
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}; reads are GET (writes: POST/PUT/PATCH/DELETE on /ogcapi/collections/incidents/items)", uri.path()),
    )
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

/// The web viewer when it is installed, else a plain page listing the layers.
async fn index(State(s): State<AppState>) -> Response {
    let page = s.config.viewer_dir.join("index.html");
    match tokio::fs::read_to_string(&page).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
        Err(_) => landing(&s),
    }
}

fn landing(s: &AppState) -> Response {
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
pub async fn serve(store: Arc<Store>, mut config: ServerConfig) -> Result<(), String> {
    if let Ok(token) = std::env::var("FORMOSA_WRITE_TOKEN") {
        config.write_token = Some(token);
    }
    // Disaster reports are written live: their layer always exists.
    store.ensure_layer(crate::live::INCIDENTS, formosa_store::LayerKind::Incidents).map_err(|e| format!("cannot prepare the incidents layer: {e}"))?;
    tracing::info!("writes (incidents, pipeline status): {}", if config.write_token.as_deref().is_some_and(|t| !t.is_empty()) { "on, with the configured bearer token" } else { "off (no write_token)" });
    let bind = config.bind.clone();
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("serving {} layers from {} on http://{addr}/", store.layers().len(), store.path().display());
    if config.features_in_memory {
        load_feature_tables(store.clone(), None);
    }
    let state = AppState::new(store, config);
    tokio::spawn(watch_for_imports(state.clone()));
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// Hot re-import: every second, looks for layers another process imported, replaced or
/// removed, swaps them in (requests in flight finish on the old ones), drops their
/// cached tiles and reads their rows into memory again.
async fn watch_for_imports(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let store = state.store.clone();
        let changed = match tokio::task::spawn_blocking(move || store.refresh()).await {
            Ok(Ok(changed)) => changed,
            Ok(Err(e)) => {
                tracing::warn!("looking for re-imports: {e}");
                continue;
            }
            Err(_) => continue,
        };
        if changed.is_empty() {
            continue;
        }
        tracing::info!("re-imported while serving: {}; swapped in", changed.join(", "));
        let terrain_changed = changed.iter().any(|n| n == "terrain");
        let mut kinds: Vec<String> = changed.iter().flat_map(|n| [format!("mvt:{n}"), format!("{}{n}", crate::http_tiles::PART_PREFIX), format!("3dtiles:{n}")]).collect();
        kinds.push("mvt:basemap".into());
        if terrain_changed {
            kinds.extend(["terrain-rgb", "quantized-mesh", "quantized-mesh+normals"].map(String::from));
        }
        // Rendered (WMTS) tiles draw several layers and the hillshade: all go.
        state.tiles.invalidate(move |k| kinds.contains(&k.kind) || k.kind.starts_with(crate::ogc::wmts::KIND_PREFIX));
        if terrain_changed {
            state.elevation.clear();
        }
        // Decoded imagery tiles are keyed by layer name: a re-imported image must not mix
        // with the old one's tiles.
        state.imagery.clear();
        if state.config.features_in_memory {
            load_feature_tables(state.store.clone(), Some(changed));
        }
    }
}

/// Reads each feature layer's rows (or those of `only`) into memory on a background
/// thread, one layer after the other; tiles are served from the store file meanwhile.
fn load_feature_tables(store: Arc<Store>, only: Option<Vec<String>>) {
    let spawned = std::thread::Builder::new().name("feature-tables".into()).spawn(move || {
        let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name));
        for layer in store.layers().into_iter().filter(|l| l.info.feature_kind().is_some() && wanted(&l.info.name)) {
            let started = std::time::Instant::now();
            match store.load_feature_table(&layer.info.name) {
                Ok((rows, bytes)) => tracing::info!(
                    "layer '{}': {rows} features in memory ({:.1} MiB) in {:.2} s",
                    layer.info.name,
                    bytes as f64 / 1048576.0,
                    started.elapsed().as_secs_f64()
                ),
                Err(e) => tracing::warn!("layer '{}' stays on disk: {e}", layer.info.name),
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("feature layers stay on disk: {e}");
    }
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


#[cfg(test)]
mod tests {
    #[test]
    fn decoded_lengths_count_escapes_as_one_byte_and_stray_percents_as_themselves() {
        assert_eq!(super::decoded_len("abc"), 3);
        assert_eq!(super::decoded_len("%77%77"), 2);
        assert_eq!(super::decoded_len("%%%"), 3);
        assert_eq!(super::decoded_len("a%7"), 3);
        assert_eq!(super::decoded_len("%E4%B8%AD"), 3);
    }
}
