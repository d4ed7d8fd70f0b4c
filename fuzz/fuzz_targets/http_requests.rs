//! Whole requests through the server's router, in process: WMS and WMTS (KVP and REST),
//! tile paths, OGC API – Features queries and bodies, static routes. The input's first
//! byte picks the method, the bytes up to the first NUL are the request target (bytes a
//! target may not hold raw are percent-encoded, as a client would), the rest is the body.
//! No input may panic or get a 5xx (but OGC's 501 for an unknown operation), and every
//! 4xx must say why in JSON or OGC XML.
#![no_main]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use formosa_importers::kinds::KindSettings;
use formosa_importers::source::OpenOptions;
use formosa_importers::{import_vector, VectorOptions};
use formosa_store::{GpkgStore, ImportMode, LayerKind};
use formosa_tile_server::config::ServerConfig;
use formosa_tile_server::server::{router, AppState};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use tower::ServiceExt;

const TOKEN: &str = "fuzz";

struct App {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

/// A store with the bundled parcels and pipelines (and the empty incidents layer), once.
static APP: LazyLock<App> = LazyLock::new(|| {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(GpkgStore::open(dir.path().join("fuzz.gpkg")).expect("store"));
    for (kind, file) in [(LayerKind::Cadastral, "cadastral/taipei_parcels.shp"), (LayerKind::Pipelines, "pipelines/pipelines_2d.gpkg")] {
        let opts = VectorOptions {
            path: format!("{repo}/data-fixtures/data/{file}").into(),
            kind,
            layer: kind.as_str().to_string(),
            mode: ImportMode::Replace,
            open: OpenOptions { source_layer: None, srs: None, encoding: None },
            field_map: Vec::new(),
            settings: KindSettings { storey_height_m: 3.3 },
            progress: false,
        };
        import_vector(&*store, &opts).expect("import fixture");
    }
    store.ensure_layer("incidents", LayerKind::Incidents).expect("incidents layer");
    let config = ServerConfig {
        cache_mb: 0,
        write_token: Some(TOKEN.into()),
        styles_dir: format!("{repo}/styles").into(),
        viewer_dir: format!("{repo}/web-viewer").into(),
        ..ServerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let router = runtime.block_on(async { router(AppState::new(store, config)) });
    App { runtime, router, _dir: dir }
});

const METHODS: [&str; 8] = ["GET", "GET", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = METHODS[m as usize % METHODS.len()];
    let (target, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let mut uri = String::from("/");
    for &b in target.strip_prefix(b"/").unwrap_or(target) {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    let Ok(mut req) = Request::builder()
        .method(method)
        .uri(&uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
    else {
        return; // not a URI http would carry (e.g. a lone '%'): a client cannot send it
    };
    req.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))));
    let app = &*APP;
    let (status, content_type, body) = app.runtime.block_on(async {
        let res = app.router.clone().oneshot(req).await.expect("the router is infallible");
        let status = res.status();
        let ct = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = axum::body::to_bytes(res.into_body(), 64 << 20).await.unwrap_or_default();
        (status, ct, body)
    });
    // 501 is OGC's own answer to an unknown operation (OperationNotSupported, table 28).
    // (Answered to HEAD too, without the body.)
    let ogc_not_supported = status == 501 && (method == "HEAD" || String::from_utf8_lossy(&body).contains("OperationNotSupported"));
    assert!(!status.is_server_error() || ogc_not_supported, "{method} {uri} → {status}: {}", String::from_utf8_lossy(&body));
    if status.is_client_error() && method != "HEAD" {
        assert!(content_type.contains("json") || content_type.contains("xml"), "{method} {uri} → {status} as {content_type:?}");
        assert!(!body.is_empty(), "{method} {uri} → {status} with no reason");
    }
});
