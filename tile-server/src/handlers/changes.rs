//! The change feed: `/changes?since=SEQ` (committed edits after SEQ) and
//! `/changes/stream` (each committed edit as a Server-Sent Event).

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use formosa_store::Change;
use serde_json::json;
use std::convert::Infallible;

/// GET /changes?since=SEQ&limit=N: committed edits after SEQ, oldest first.
pub async fn changes(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, Problem> {
    let (mut since, mut limit) = (0i64, 1000usize);
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "since" => since = v.parse().map_err(|_| Problem::bad_request(format!("since '{v}' must be a change number (the \"seq\" of the last change seen, or 0)")))?,
            "limit" => limit = v.parse().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| Problem::bad_request(format!("limit '{v}' must be 1 to 10000")))?,
            other => return Err(Problem::bad_request(format!("unknown query parameter '{other}'; use since and limit"))),
        }
    }
    let store = s.store.clone();
    let (list, last) = tokio::task::spawn_blocking(move || Ok::<_, formosa_store::StoreError>((store.changes_since(since, limit)?, store.last_change()?)))
        .await
        .map_err(|e| Problem::internal(e.to_string()))??;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(json!({ "changes": list, "last": last }))).into_response())
}

/// GET /changes/stream: each committed edit as a Server-Sent Event (`id` = seq). A
/// client that reconnects with Last-Event-ID gets what it missed first. When the server
/// shuts down the stream ends with a `shutdown` event carrying a `retry:` hint, so
/// EventSource reconnects (through the balancer, to another node) and resumes from its
/// last id.
pub async fn stream(State(s): State<AppState>, headers: HeaderMap) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let since: i64 = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(-1);
    let mut rx = s.changes.subscribe();
    let store = s.store.clone();
    let missed = if since >= 0 { tokio::task::spawn_blocking(move || store.changes_since(since, 10_000).unwrap_or_default()).await.unwrap_or_default() } else { Vec::new() };
    let metrics = s.metrics.clone();
    let closing = s.clone();
    let stream = async_stream::stream! {
        let mut last = since;
        for c in missed {
            last = c.seq;
            yield Ok(event(&c));
        }
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                _ = closing.lifecycle.closing() => {
                    yield Ok(shutdown_event(last));
                    break;
                }
            };
            match next {
                Ok(c) if c.seq > last => {
                    last = c.seq;
                    metrics.live.sse_sent(&c.at);
                    yield Ok(event(&c));
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    metrics.live.sse_missed.inc();
                    yield Ok(Event::default().event("lagged").data("{\"detail\":\"changes were missed; fetch /changes?since=LAST\"}"));
                }
                Err(_) => break,
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The stream's last event when the server stops. No `id`: the client keeps the last
/// change's id as its Last-Event-ID. Reconnections are spread over 1–3 s so the other
/// nodes do not take every stream in the same instant.
fn shutdown_event(last: i64) -> Event {
    static SPREAD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SPREAD.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let retry = std::time::Duration::from_millis(1000 + (n * 337) % 2000);
    Event::default()
        .event("shutdown")
        .retry(retry)
        .data(json!({ "detail": "this server is shutting down; reconnect (Last-Event-ID resumes the feed)", "last": last, "retry_ms": retry.as_millis() as u64 }).to_string())
}

fn event(c: &Change) -> Event {
    Event::default().id(c.seq.to_string()).event("change").data(serde_json::to_string(c).unwrap_or_default())
}
