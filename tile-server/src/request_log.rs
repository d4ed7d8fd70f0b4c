//! One log event per request, and its request id.
//!
//! The id is the incoming `X-Request-Id` when it is short and printable (≤ 64 of
//! `[A-Za-z0-9._-]`: what a balancer or a client generates, and safe in a log line),
//! else one made here; it goes back in `x-request-id` on every answer, errors included.
//! The event (target `formosa::request`) is at info level when logs are JSON (meant for a
//! log pipeline) and at debug in text logs (meant for a terminal: `-v` shows them).
//! Duration is until the response head is ready; bytes are the body's length when known
//! (streamed bodies have none).

use crate::state::AppState;
use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether request events are at info (JSON logs) rather than debug; set once by the binary.
static INFO_LEVEL: AtomicBool = AtomicBool::new(false);

/// Logs each request at info level from now on (the binary calls this for JSON logs).
pub fn log_requests_at_info() {
    INFO_LEVEL.store(true, Ordering::Relaxed);
}

/// The id to use for a request: the client's, when acceptable.
pub fn request_id(incoming: Option<&HeaderValue>) -> HeaderValue {
    match incoming {
        Some(v) if acceptable(v.as_bytes()) => v.clone(),
        _ => generated(),
    }
}

fn acceptable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 64 && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A process-unique id: a per-start prefix (so ids from several nodes or restarts do not
/// collide in one log store) and a counter.
fn generated() -> HeaderValue {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = *PREFIX.get_or_init(|| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{prefix:08x}-{n:x}")).expect("hex is a header value")
}

/// Middleware, outermost: gives the request its id, counts it in flight, logs it, and
/// while draining asks the client to close the connection after the answer.
pub async fn observe(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let id = request_id(req.headers().get(&X_REQUEST_ID));
    req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let agent = req.headers().get(header::USER_AGENT).cloned();
    let tracked = s.lifecycle.track(method.clone(), uri.clone(), id.clone());
    let mut response = next.run(req).await;
    drop(tracked);
    let headers = response.headers_mut();
    headers.insert(X_REQUEST_ID.clone(), id.clone());
    if s.lifecycle.draining() {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let info = INFO_LEVEL.load(Ordering::Relaxed);
    if (info && tracing::enabled!(target: "formosa::request", tracing::Level::INFO)) || tracing::enabled!(target: "formosa::request", tracing::Level::DEBUG) {
        let bytes = response.body().size_hint().exact();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let client = client.map(|c| c.to_string());
        let client = client.as_deref();
        let agent = agent.as_ref().and_then(|a| a.to_str().ok());
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "formosa::request",
                    $level,
                    method = %method,
                    path = uri.path(),
                    query = uri.query(),
                    status = response.status().as_u16(),
                    duration_ms = (ms * 1000.0).round() / 1000.0,
                    bytes,
                    client,
                    request_id = id.to_str().unwrap_or_default(),
                    user_agent = agent,
                    "request"
                )
            };
        }
        if info {
            event!(tracing::Level::INFO);
        } else {
            event!(tracing::Level::DEBUG);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_printable_ids_are_kept_and_others_replaced() {
        let keep = HeaderValue::from_static("abc-123_X.y");
        assert_eq!(request_id(Some(&keep)), keep);
        let long = HeaderValue::from_str(&"a".repeat(65)).unwrap();
        for bad in [HeaderValue::from_static("has space"), HeaderValue::from_static("semi;colon"), HeaderValue::from_static(""), long] {
            let got = request_id(Some(&bad));
            assert_ne!(got, bad);
            assert!(acceptable(got.as_bytes()), "{got:?}");
        }
        assert_ne!(request_id(None), request_id(None), "generated ids differ");
    }
}
