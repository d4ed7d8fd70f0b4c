//! RFC 9457 problem details: the JSON body of every API error.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Seconds after which a client may try again (503s), sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem { kind: "about:blank", title: status.canonical_reason().unwrap_or("Error"), status: status.as_u16(), detail: detail.into(), retry_after: None }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
    /// 503 with `Retry-After`: the request was fine, something it needs is away for now.
    pub fn unavailable(detail: impl Into<String>, retry_after_s: u32) -> Self {
        Problem { retry_after: Some(retry_after_s), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, detail) }
    }
}

/// Store errors as clients should read them: their request's fault (400, 404), the
/// database away for now (503, try again), or ours (500).
impl From<formosa_store::StoreError> for Problem {
    fn from(e: formosa_store::StoreError) -> Self {
        use formosa_store::StoreError as E;
        match e {
            E::Schema(m) => Problem::bad_request(m),
            E::UnknownLayer(_) | E::KindMismatch { .. } | E::BadLayerName(_) => Problem::bad_request(e.to_string()),
            E::Unavailable(_) | E::Connect { .. } => Problem::unavailable(format!("{e}; nothing was written, try again shortly"), 5),
            e => Problem::internal(e.to_string()),
        }
    }
}

impl From<crate::builders::BuildError> for Problem {
    fn from(e: crate::builders::BuildError) -> Self {
        match e.retry_after() {
            Some(s) => Problem::unavailable(e.to_string(), s),
            None => Problem::internal(e.to_string()),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
        if let Some(s) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        response
    }
}

/// Response mapper: plain-text 4xx answers from axum's own extractors (a path segment
/// that is not UTF-8, a malformed JSON body…) become problem details too, with the
/// extractor's message as the detail, so every error a client sees is JSON.
pub async fn rejections_as_problems(response: Response) -> Response {
    let plain = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/plain"));
    let status = response.status();
    if !plain || !status.is_client_error() {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&body).trim().to_string();
    Problem::new(status, if detail.is_empty() { status.canonical_reason().unwrap_or("bad request").to_string() } else { detail }).into_response()
}
