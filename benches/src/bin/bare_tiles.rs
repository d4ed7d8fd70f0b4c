//! The warm path's physical limit, for benches/mvt_vs_martin.sh: a bare axum handler that
//! answers the same bytes with the same headers as Formosa's tile cache, and does nothing
//! else (no cache lookup, no negotiation, no middleware). Formosa warm / bare is how much
//! of that limit Formosa reaches.
//!
//!   bare_tiles ADDR DIR
//!
//! DIR holds what the script captured from Formosa: `index.tsv` (one line per tile: the
//! request path, the name of the file with the body, the tile's ETag), the bodies, and
//! `headers.txt` (the other `Name: value` lines Formosa sent, the same for every tile).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

struct Tiles {
    bodies: HashMap<String, (HeaderValue, Bytes)>,
    headers: HeaderMap,
}

async fn tile(State(tiles): State<Arc<Tiles>>, uri: Uri) -> Response {
    match tiles.bodies.get(uri.path()) {
        Some((etag, body)) => (tiles.headers.clone(), [(axum::http::header::ETAG, etag.clone())], body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn load(dir: &Path) -> Result<Tiles, String> {
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()));
    let index = String::from_utf8(read("index.tsv")?).map_err(|e| e.to_string())?;
    let mut bodies = HashMap::new();
    for line in index.lines().filter(|l| !l.is_empty()) {
        let [path, file, etag] = line.split('\t').collect::<Vec<_>>()[..] else { return Err(format!("index.tsv: not path, file, etag: {line:?}")) };
        bodies.insert(path.to_string(), (HeaderValue::from_str(etag).map_err(|e| e.to_string())?, Bytes::from(read(file)?)));
    }
    let mut headers = HeaderMap::new();
    for line in String::from_utf8(read("headers.txt")?).map_err(|e| e.to_string())?.lines().filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').ok_or_else(|| format!("headers.txt: no ':' in {line:?}"))?;
        headers.append(HeaderName::from_bytes(k.trim().as_bytes()).map_err(|e| e.to_string())?, HeaderValue::from_str(v.trim()).map_err(|e| e.to_string())?);
    }
    Ok(Tiles { bodies, headers })
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, dir] = args.as_slice() else {
        eprintln!("usage: bare_tiles ADDR DIR");
        return std::process::ExitCode::from(2);
    };
    let tiles = match load(Path::new(dir)) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("bare_tiles: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    eprintln!("bare_tiles: {} tiles on {addr}", tiles.bodies.len());
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await.expect("bind");
        axum::serve(listener, axum::Router::new().fallback(tile).with_state(tiles)).await.expect("serve");
    });
    std::process::ExitCode::SUCCESS
}
