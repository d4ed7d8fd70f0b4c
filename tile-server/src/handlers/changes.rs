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
/// client that reconnects with Last-Event-ID gets what it missed first.
pub async fn stream(State(s): State<AppState>, headers: HeaderMap) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let since: i64 = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(-1);
    let mut rx = s.changes.subscribe();
    let store = s.store.clone();
    let missed = if since >= 0 { tokio::task::spawn_blocking(move || store.changes_since(since, 10_000).unwrap_or_default()).await.unwrap_or_default() } else { Vec::new() };
    let metrics = s.metrics.clone();
    let stream = async_stream::stream! {
        let mut last = since;
        for c in missed {
            last = c.seq;
            yield Ok(event(&c));
        }
        loop {
            match rx.recv().await {
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

fn event(c: &Change) -> Event {
    Event::default().id(c.seq.to_string()).event("change").data(serde_json::to_string(c).unwrap_or_default())
}
