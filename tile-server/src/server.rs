//! The HTTP router and the server's life: the only module that names the handlers, the
//! middleware around them, serving until a signal (SIGTERM drains, SIGHUP reloads:
//! `lifecycle.rs`, `reload.rs`), and the background work (hot re-import, rows into
//! memory). Handlers are thin: parse the request, call a service or
//! an encoder, set headers. Every error is a JSON problem (or, for OGC services, an
//! exception report).

use crate::config::ServerConfig;
use crate::handlers::{archives, changes, edits, features, meta, style, tiles, tiles3d, wms, wmts};
use crate::lifecycle::{self, Phase, Signal, Signals};
use crate::limits::{self, Limits};
use crate::problem::Problem;
use crate::reload::{self, Reload};
use crate::services::archives::Archives;
use crate::services::edits::INCIDENTS;
use crate::services::invalidation;
use axum::extract::{ConnectInfo, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use formosa_store::Store;
use std::future::IntoFuture;
use std::sync::Arc;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;

pub use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    // Static files; what is not there, or not a GET, gets a JSON reason like everything else.
    let viewer_dir = state.config().viewer_dir.clone();
    let viewer = ServeDir::new(viewer_dir).call_fallback_on_method_not_allowed(true).fallback(axum::handler::HandlerWithoutStateExt::into_service(static_fallback));
    // The change stream stays open for good: no timeout on it.
    let streams = Router::new().route("/changes/stream", get(changes::stream));
    Router::new()
        .route("/", get(meta::index))
        .route("/favicon.ico", get(meta::favicon))
        .route("/health", get(meta::health))
        .route("/metrics", get(meta::metrics))
        .route("/ready", get(meta::ready))
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
        .layer(axum::middleware::from_fn_with_state(state.clone(), timeout))
        .merge(streams)
        .layer(axum::extract::DefaultBodyLimit::max(edits::MAX_BODY))
        .layer(axum::middleware::from_fn(refuse_unservable_paths))
        .layer(axum::middleware::map_response(crate::problem::rejections_as_problems))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(axum::middleware::from_fn(client_scope))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), crate::metrics::observe))
        .layer(cors(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), any_origin))
        // Outermost: every answer, CORS preflights and errors included, has its request id.
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::request_log::observe))
        .with_state(state)
}

/// CORS for the origins configured now (any, with "*"; a reload changes them for the next
/// request); writes need Authorization. The allowed origin is the request's own, echoed.
fn cors(state: AppState) -> CorsLayer {
    use tower_http::cors::AllowOrigin;
    let allowed = move |origin: &axum::http::HeaderValue, _: &axum::http::request::Parts| state.config().cors_origins.iter().any(|o| o == "*" || o.as_bytes() == origin.as_bytes());
    CorsLayer::new()
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::HEAD,
            axum::http::Method::POST,
            axum::http::Method::PUT,
            axum::http::Method::PATCH,
            axum::http::Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_NONE_MATCH, "last-event-id".parse().expect("header name")])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER, crate::request_log::X_REQUEST_ID.clone()])
        .allow_origin(AllowOrigin::predicate(allowed))
}

/// With `cors_origins = ["*"]` every answer allows any origin with `*`, whether or not the
/// request named one, and does not vary by origin — as before reloads made CORS follow the
/// configuration (the origin predicate above answers only requests that send `Origin`,
/// echoing it, and adds `Vary: origin`, which would split shared caches per site).
async fn any_origin(State(s): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(req).await;
    if s.config().cors_origins.iter().any(|o| o == "*") {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, axum::http::HeaderValue::from_static("*"));
        let by_cors = |v: &str| v.eq_ignore_ascii_case("origin") || v.to_ascii_lowercase().starts_with("access-control-request-");
        // Most answers carry no Vary from CORS (no Origin asked): those are left as they are.
        if vary_tokens(headers).any(by_cors) {
            let kept: Vec<String> = vary_tokens(headers).filter(|v| !v.is_empty() && !by_cors(v)).map(str::to_string).collect();
            headers.remove(header::VARY);
            if let (false, Ok(v)) = (kept.is_empty(), axum::http::HeaderValue::from_str(&kept.join(", "))) {
                headers.insert(header::VARY, v);
            }
        }
    }
    response
}

/// The names listed in a response's `Vary` headers.
fn vary_tokens(headers: &axum::http::HeaderMap) -> impl Iterator<Item = &str> {
    headers.get_all(header::VARY).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim)
}

/// Per-client rate limit at the configuration in force (`limits.rs`).
async fn rate_limit(State(s): State<AppState>, ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limits = Limits::of(&s.config());
    match limits::over_rate(&s.limiter, limits, addr) {
        None => next.run(req).await,
        Some(refused) => refused,
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

/// The request timeout in force (`limits.rs`); the change stream is routed around it.
async fn timeout(State(s): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limits = Limits::of(&s.config());
    limits::timed(limits, next.run(req)).await
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

/// Binds and serves until SIGTERM or Ctrl-C, then drains (`lifecycle.rs`); on SIGHUP
/// calls `reload` and puts what it returns in force (`reload.rs`). Returns when the last
/// request is answered or the shutdown grace is over, the store flushed.
pub async fn serve(store: Arc<dyn Store>, config: ServerConfig, reload: Option<Reload>) -> Result<(), String> {
    // First: a SIGHUP during start-up must not kill the process (its default action).
    let mut signals = Signals::install()?;
    let config = reload::with_environment(config);
    // Seeded archives: each must open now (a typo or a storage away stops the start, before
    // anything is written to the store). Their names are not the server's layers'.
    let mut taken: Vec<String> = store.layers().into_iter().map(|l| l.name).collect();
    taken.extend([INCIDENTS.to_string(), formosa_encoders::render::BASEMAP.to_string()]);
    let archives = Archives::open(&config.archives, &taken).await?;
    // Disaster reports are written live: their layer always exists.
    store.ensure_layer(INCIDENTS, formosa_store::LayerKind::Incidents).map_err(|e| format!("cannot prepare the incidents layer: {e}"))?;
    tracing::info!("writes (incidents, pipeline status): {}", writes(&config));
    let bind = config.bind.clone();
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("serving {} layers from {} on http://{addr}/", store.layers().len(), store.location());
    if config.features_in_memory {
        load_feature_tables(store.clone(), None);
    }
    let state = AppState::new(store, config).with_archives(archives);
    tokio::spawn(watch_for_imports(state.clone()));
    let closing = state.clone();
    let app = router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move { closing.lifecycle.closing().await });
    let mut server = tokio::spawn(server.into_future());
    loop {
        tokio::select! {
            ended = &mut server => return ended.map_err(|e| e.to_string())?.map_err(|e| e.to_string()),
            signal = signals.next() => match signal {
                Signal::Reload => reload_config(&state, reload.as_ref()),
                Signal::Stop => break,
            },
        }
    }
    drain(&state, &mut signals, server).await;
    flush(&state).await;
    Ok(())
}

fn writes(config: &ServerConfig) -> &'static str {
    if config.write_token.as_deref().is_some_and(|t| !t.is_empty()) {
        "on, with the configured bearer token"
    } else {
        "off (no write_token)"
    }
}

fn reload_config(state: &AppState, reload: Option<&Reload>) {
    let Some(reload) = reload else {
        tracing::warn!("SIGHUP: this server has no configuration file to read again; nothing changed");
        return;
    };
    match reload() {
        Ok(new) => {
            let before = writes(&state.config());
            reload::apply(state, new);
            let after = writes(&state.config());
            if before != after {
                tracing::info!("writes (incidents, pipeline status): {after}");
            }
        }
        Err(e) => tracing::error!("SIGHUP: {e}; keeping the configuration in force"),
    }
}

/// From the stop signal to the last answer: draining for `shutdown_delay_s` (still
/// accepting), then closing, until everything in flight is answered or the grace from
/// the signal is over. A second stop signal skips the wait.
async fn drain(state: &AppState, signals: &mut Signals, mut server: tokio::task::JoinHandle<std::io::Result<()>>) {
    let started = tokio::time::Instant::now();
    let (delay, grace) = {
        let c = state.config();
        (secs(c.shutdown_delay_s), secs(c.shutdown_grace_s))
    };
    let deadline = started + grace;
    state.lifecycle.enter(Phase::Draining);
    tracing::info!(
        "shutting down: /ready says draining; {} requests in flight; closing the listener in {:.1} s, exiting within {:.1} s",
        state.lifecycle.in_flight().len(),
        (delay + lifecycle::SETTLE).min(grace).as_secs_f64(),
        grace.as_secs_f64()
    );
    let mut forced = false;
    tokio::select! {
        _ = tokio::time::sleep_until((started + delay + lifecycle::SETTLE).min(deadline)) => {}
        _ = wait_for_stop(signals) => forced = true,
    }
    state.lifecycle.enter(Phase::Closing);
    if forced {
        tracing::warn!("second stop signal: exiting now");
    } else {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = &mut server => {
                tracing::info!("shut down: every request answered in {:.1} s", started.elapsed().as_secs_f64());
                return;
            }
            _ = wait_for_stop(signals) => tracing::warn!("second stop signal: exiting now"),
        }
    }
    let cut = state.lifecycle.in_flight();
    let list: Vec<String> =
        cut.iter().take(20).map(|r| format!("{} {} ({:.1} s, id {})", r.method, r.uri, r.since.elapsed().as_secs_f64(), r.request_id.to_str().unwrap_or("?"))).collect();
    tracing::warn!(
        "shutdown grace over after {:.1} s: exiting with {} requests still in flight{}{}",
        started.elapsed().as_secs_f64(),
        cut.len(),
        if list.is_empty() { String::new() } else { format!(": {}", list.join("; ")) },
        if cut.len() > list.len() { " …" } else { "" }
    );
}

async fn wait_for_stop(signals: &mut Signals) {
    while signals.next().await != Signal::Stop {
        tracing::info!("SIGHUP while shutting down: ignored");
    }
}

fn secs(s: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(std::time::Duration::from_secs(3600))
}

/// Makes the store tidy for the next start (`Serving::flush`: the GeoPackage folds its
/// write-ahead log into the file). Every acknowledged write was durable already.
async fn flush(state: &AppState) {
    let store = state.store.clone();
    let flushing = tokio::task::spawn_blocking(move || store.flush());
    match tokio::time::timeout(std::time::Duration::from_secs(5), flushing).await {
        Ok(Ok(Ok(()))) => tracing::info!("store {} flushed; stopped", state.store.location()),
        Ok(Ok(Err(e))) => tracing::warn!("flushing the store: {e} (every acknowledged write is committed already); stopped"),
        _ => tracing::warn!("flushing the store took more than 5 s; stopped without it (every acknowledged write is committed already)"),
    }
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
        if state.config().features_in_memory {
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
