//! The HTTP router and the server's life: the only module that names the handlers, the
//! middleware around them, serving until a signal, and the background work (hot
//! re-import, rows into memory). Handlers are thin: parse the request, call a service or
//! an encoder, set headers. Every error is a JSON problem (or, for OGC services, an
//! exception report).

use crate::config::ServerConfig;
use crate::handlers::{archives, changes, edits, features, meta, style, tiles, tiles3d, wms, wmts};
use crate::problem::Problem;
use crate::services::archives::Archives;
use crate::services::edits::INCIDENTS;
use crate::services::invalidation;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use formosa_store::Store;
use std::sync::Arc;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;

pub use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    // Static files; what is not there, or not a GET, gets a JSON reason like everything else.
    let viewer = ServeDir::new(&state.config.viewer_dir).call_fallback_on_method_not_allowed(true).fallback(axum::handler::HandlerWithoutStateExt::into_service(static_fallback));
    // The change stream stays open for good: no timeout on it.
    let streams = Router::new().route("/changes/stream", get(changes::stream));
    let timeout = std::time::Duration::from_secs(state.config.request_timeout_s.max(1));
    Router::new()
        .route("/", get(meta::index))
        .route("/favicon.ico", get(meta::favicon))
        .route("/health", get(meta::health))
        .route("/metrics", get(meta::metrics))
        .route("/catalog", get(meta::catalog))
        .route("/tiles", get(tiles::catalog))
        .route("/tiles/{file}", get(tiles::tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tiles::tile))
        .route("/fonts/{fontstack}/{range}", get(meta::glyphs))
        .route("/styles/{file}", get(style::style))
        .route("/terrain-rgb/{z}/{x}/{y}", get(tiles::terrain_rgb))
        .route("/terrain/layer.json", get(tiles::terrain_layer_json))
        .route("/3dtiles/{layer}/{file}", get(tiles3d::tileset))
        .route("/ogcapi", get(features::landing))
        .route("/ogcapi/conformance", get(features::conformance))
        .route("/ogcapi/collections", get(features::collections))
        .route("/ogcapi/collections/{id}", get(features::collection))
        .route("/ogcapi/collections/{id}/items", get(features::items).post(edits::create))
        .route("/ogcapi/collections/{id}/items/{fid}", get(features::item).put(edits::replace).patch(edits::patch).delete(edits::delete))
        .route("/changes", get(changes::changes))
        .route("/wms", get(wms::handle))
        .route("/wmts", get(wmts::kvp))
        .route("/wmts/1.0.0/WMTSCapabilities.xml", get(wmts::rest_capabilities))
        .route("/wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{file}", get(wmts::rest_tile))
        .route("/wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{col}/{j}/{file}", get(wmts::rest_info))
        .route("/3dtiles/{layer}/{z}/{x}/{y}", get(tiles3d::content))
        .route("/terrain/{z}/{x}/{y}", get(tiles::terrain_mesh))
        .route("/archives", get(archives::catalog))
        .route("/archives/{file}", get(archives::tilejson))
        .route("/archives/{name}/{z}/{x}/{y}", get(archives::tile))
        .nest_service("/viewer", viewer)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout))
        .merge(streams)
        .layer(axum::extract::DefaultBodyLimit::max(edits::MAX_BODY))
        .layer(axum::middleware::from_fn(refuse_unservable_paths))
        .layer(axum::middleware::map_response(crate::problem::rejections_as_problems))
        .layer(axum::middleware::from_fn_with_state(state.limiter.clone(), crate::limits::rate_limit))
        .layer(axum::middleware::from_fn(client_scope))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::observe))
        .layer(cors(&state.config.cors_origins))
        .with_state(state)
}

/// CORS for the configured origins (any, with "*"); writes need Authorization.
fn cors(origins: &[String]) -> CorsLayer {
    use tower_http::cors::{AllowOrigin, Any};
    let layer = CorsLayer::new()
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::HEAD,
            axum::http::Method::POST,
            axum::http::Method::PUT,
            axum::http::Method::PATCH,
            axum::http::Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_NONE_MATCH, "last-event-id".parse().expect("header name")])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER]);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        layer.allow_origin(AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok())))
    }
}

/// Runs the request with its client's address known to the builders' scheduler, which
/// shares the builders by client (`builders::CLIENT`).
async fn client_scope(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let client = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    match client {
        Some(ip) => crate::builders::CLIENT.scope(ip, next.run(req)).await,
        None => next.run(req).await,
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
        return Problem::new(axum::http::StatusCode::BAD_REQUEST, format!("a path segment is {long} bytes long; no resource here has a name longer than {MAX_SEGMENT}"))
            .into_response();
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

/// Binds and serves until Ctrl-C / SIGTERM.
pub async fn serve(store: Arc<dyn Store>, mut config: ServerConfig) -> Result<(), String> {
    if let Ok(token) = std::env::var("FORMOSA_WRITE_TOKEN") {
        config.write_token = Some(token);
    }
    // Seeded archives: each must open now (a typo or a storage away stops the start, before
    // anything is written to the store). Their names are not the server's layers'.
    let mut taken: Vec<String> = store.layers().into_iter().map(|l| l.name).collect();
    taken.extend([INCIDENTS.to_string(), formosa_encoders::render::BASEMAP.to_string()]);
    let archives = Archives::open(&config.archives, &taken).await?;
    // Disaster reports are written live: their layer always exists.
    store.ensure_layer(INCIDENTS, formosa_store::LayerKind::Incidents).map_err(|e| format!("cannot prepare the incidents layer: {e}"))?;
    tracing::info!(
        "writes (incidents, pipeline status): {}",
        if config.write_token.as_deref().is_some_and(|t| !t.is_empty()) { "on, with the configured bearer token" } else { "off (no write_token)" }
    );
    let bind = config.bind.clone();
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("serving {} layers from {} on http://{addr}/", store.layers().len(), store.location());
    if config.features_in_memory {
        load_feature_tables(store.clone(), None);
    }
    let state = AppState::new(store, config).with_archives(archives);
    tokio::spawn(watch_for_imports(state.clone()));
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(shutdown_signal()).await.map_err(|e| e.to_string())
}

/// Hot re-import: every second, looks for layers another process imported, replaced or
/// removed, swaps them in (requests in flight finish on the old ones), drops their
/// cached tiles and reads their rows into memory again.
async fn watch_for_imports(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        // A store that cannot be reached has nothing new to show; it says so once.
        if state.store.degraded().is_some() {
            continue;
        }
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
        state.metrics.live.reimports.inc_by(changed.len() as u64);
        let terrain_changed = changed.iter().any(|n| n == formosa_store::raster::TERRAIN);
        invalidation::after_reimport(&state.tiles.cache, &changed);
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
fn load_feature_tables(store: Arc<dyn Store>, only: Option<Vec<String>>) {
    let spawned = std::thread::Builder::new().name("feature-tables".into()).spawn(move || {
        let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name));
        for layer in store.layers().into_iter().filter(|l| l.feature_kind().is_some() && wanted(&l.name)) {
            let started = std::time::Instant::now();
            match store.keep_rows_in_memory(&layer.name) {
                Ok((rows, bytes)) => {
                    tracing::info!("layer '{}': {rows} features in memory ({:.1} MiB) in {:.2} s", layer.name, bytes as f64 / 1048576.0, started.elapsed().as_secs_f64())
                }
                Err(e) => tracing::warn!("layer '{}' stays on disk: {e}", layer.name),
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
