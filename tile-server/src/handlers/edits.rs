//! Live edits from disaster-response apps (OGC API – Features Part 4): the HTTP side.
//! A write is acknowledged only once committed to disk; by then the store's listener has
//! dropped exactly the cached tiles that touch the feature and published the change
//! (`services/invalidation.rs`); the rules are in `services/edits.rs`.
//!
//! Writable: the `incidents` layer (POST, PUT, PATCH, DELETE) and the `status` of
//! pipelines (PATCH). Writes need `Authorization: Bearer <token>` matching
//! `[server] write_token` or FORMOSA_WRITE_TOKEN; with no token configured, writes are off.

use crate::http::{base_url, parse_fid};
use crate::problem::Problem;
use crate::services::edits::{apply, new_incident, patch_properties, patched, read_back, writable};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use formosa_store::Edit;
use serde_json::Value as Json;

/// The largest request body a write accepts.
pub const MAX_BODY: usize = 1 << 20;

/// Checks the bearer token: the refusal, 401 without one, 403 with a wrong one or none
/// configured; None when the write may go ahead.
fn refusal(s: &AppState, headers: &HeaderMap) -> Option<Response> {
    let config = s.config();
    let Some(expected) = config.write_token.as_deref().filter(|t| !t.is_empty()) else {
        return Some(Problem::new(StatusCode::FORBIDDEN, "writes are disabled on this server: set [server] write_token or FORMOSA_WRITE_TOKEN").into_response());
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => {
            let mut r = Problem::new(StatusCode::UNAUTHORIZED, "writes need an Authorization: Bearer <token> header").into_response();
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"formosa\""));
            Some(r)
        }
        // Constant-time compare: the token is a secret.
        Some(t) if t.len() == expected.len() && t.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0 => None,
        Some(_) => Some(Problem::new(StatusCode::FORBIDDEN, "the bearer token is not valid for writes").into_response()),
    }
}

fn parse_body(body: &Bytes) -> Result<Json, Problem> {
    if body.len() > MAX_BODY {
        return Err(Problem::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is {} bytes; the limit is {MAX_BODY}", body.len())));
    }
    serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))
}

fn created(headers: &HeaderMap, layer: &str, fid: i64, doc: String) -> Response {
    let location = format!("{}/ogcapi/collections/{layer}/items/{fid}", base_url(headers));
    let mut r = (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/geo+json")], doc).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// POST /ogcapi/collections/incidents/items
pub async fn create(State(s): State<AppState>, headers: HeaderMap, Path(layer): Path<String>, body: Bytes) -> Response {
    if let Some(r) = refusal(&s, &headers) {
        return r;
    }
    let result = async {
        writable(&layer)?;
        let f = new_incident(&parse_body(&body)?)?;
        let c = apply(&s.store, &layer, Edit::Insert(f)).await?.ok_or_else(|| Problem::internal("insert reported no change"))?;
        Ok::<_, Problem>(created(&headers, &layer, c.fid, read_back(&*s.store, &layer, c.fid)?))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// PUT /ogcapi/collections/incidents/items/{fid}
pub async fn replace(State(s): State<AppState>, headers: HeaderMap, Path((layer, fid)): Path<(String, String)>, body: Bytes) -> Response {
    if let Some(r) = refusal(&s, &headers) {
        return r;
    }
    let result = async {
        writable(&layer)?;
        let fid = parse_fid(&fid)?;
        let f = new_incident(&parse_body(&body)?)?;
        apply(&s.store, &layer, Edit::Replace(fid, f)).await?.ok_or_else(|| no_feature(&layer, fid))?;
        Ok::<_, Problem>(geojson_response(read_back(&*s.store, &layer, fid)?))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// PATCH /ogcapi/collections/{incidents|pipelines}/items/{fid}: merges the given
/// properties (and geometry, for incidents) into the feature.
pub async fn patch(State(s): State<AppState>, headers: HeaderMap, Path((layer, fid)): Path<(String, String)>, body: Bytes) -> Response {
    if let Some(r) = refusal(&s, &headers) {
        return r;
    }
    let result = async {
        let fid = parse_fid(&fid)?;
        let l = s.store.feature_layer(&layer).ok_or_else(|| Problem::not_found(format!("no collection '{layer}'")))?;
        let patch = parse_body(&body)?;
        let props = patch_properties(l.kind(), &layer, &patch)?;
        let current = l.feature(fid)?.ok_or_else(|| no_feature(&layer, fid))?;
        let f = patched(&current, l.kind(), &props, &patch)?;
        apply(&s.store, &layer, Edit::Replace(fid, f)).await?.ok_or_else(|| no_feature(&layer, fid))?;
        Ok::<_, Problem>(geojson_response(read_back(&*s.store, &layer, fid)?))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// DELETE /ogcapi/collections/incidents/items/{fid}
pub async fn delete(State(s): State<AppState>, headers: HeaderMap, Path((layer, fid)): Path<(String, String)>) -> Response {
    if let Some(r) = refusal(&s, &headers) {
        return r;
    }
    let result = async {
        writable(&layer)?;
        let fid = parse_fid(&fid)?;
        apply(&s.store, &layer, Edit::Delete(fid)).await?.ok_or_else(|| no_feature(&layer, fid))?;
        Ok::<_, Problem>(StatusCode::NO_CONTENT.into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

fn no_feature(layer: &str, fid: i64) -> Problem {
    Problem::not_found(format!("collection '{layer}' has no feature {fid}"))
}

fn geojson_response(doc: String) -> Response {
    ([(header::CONTENT_TYPE, "application/geo+json")], doc).into_response()
}
