//! Live edits from disaster-response apps (OGC API – Features Part 4) and what follows
//! them: a write is acknowledged only once committed to disk; then exactly the cached
//! tiles that touch the feature (before and after, at every zoom, with the render buffer)
//! are dropped, and the change goes out on the feed (`/changes?since=`, Server-Sent
//! Events at `/changes/stream`).
//!
//! Writable: the `incidents` layer (POST, PUT, PATCH, DELETE) and the `status` of
//! pipelines (PATCH). Writes need `Authorization: Bearer <token>` matching
//! `[server] write_token` or FORMOSA_WRITE_TOKEN; with no token configured, writes are off.

use crate::cache::TileKey;
use crate::geojson;
use crate::http_tiles::base_url;
use crate::ogc_features::parse_fid;
use crate::problem::Problem;
use crate::server::AppState;
use crate::tiles::buffered_bounds;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use formosa_store::{Change, Edit, Envelope, LayerKind, NewFeature, Value};
use serde_json::{json, Value as Json};
use std::convert::Infallible;

/// The writable layer of disaster reports.
pub const INCIDENTS: &str = "incidents";
/// The largest request body a write accepts.
pub const MAX_BODY: usize = 1 << 20;

fn problem(status: StatusCode, detail: impl Into<String>) -> Problem {
    Problem::new(status, detail)
}

/// Checks the bearer token: 401 without one, 403 with a wrong one or none configured.
fn authorise(s: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let Some(expected) = s.config.write_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(problem(StatusCode::FORBIDDEN, "writes are disabled on this server: set [server] write_token or FORMOSA_WRITE_TOKEN").into_response());
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => {
            let mut r = problem(StatusCode::UNAUTHORIZED, "writes need an Authorization: Bearer <token> header").into_response();
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"formosa\""));
            Err(r)
        }
        // Constant-time compare: the token is a secret.
        Some(t) if t.len() == expected.len() && t.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0 => Ok(()),
        Some(_) => Err(problem(StatusCode::FORBIDDEN, "the bearer token is not valid for writes").into_response()),
    }
}

fn parse_body(body: &Bytes) -> Result<Json, Problem> {
    if body.len() > MAX_BODY {
        return Err(problem(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is {} bytes; the limit is {MAX_BODY}", body.len())));
    }
    serde_json::from_slice(body).map_err(|e| problem(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}")))
}

/// Incidents' own rules: a type, a severity from 1 to 5, an RFC 3339 time (now if none).
fn check_incident(f: &mut NewFeature) -> Result<(), String> {
    let col = |name: &str| LayerKind::Incidents.columns().iter().position(|c| c.name == name).expect("incident column");
    match &f.values[col("type")] {
        Value::Text(t) if !t.trim().is_empty() => {}
        _ => return Err("an incident needs a \"type\" (e.g. \"road_closure\", \"flood\", \"damaged_pipe\")".into()),
    }
    match f.values[col("severity")] {
        Value::Integer(1..=5) => {}
        Value::Null => f.values[col("severity")] = Value::Integer(3),
        ref v => return Err(format!("\"severity\" must be 1 to 5, got {v:?}")),
    }
    match &f.values[col("time")] {
        Value::Null => f.values[col("time")] = Value::Text(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        Value::Text(t) if chrono::DateTime::parse_from_rfc3339(t).is_ok() => {}
        v => return Err(format!("\"time\" must be an RFC 3339 date-time such as 2026-11-23T08:30:00+08:00, got {v:?}")),
    }
    Ok(())
}

/// Runs the edit on a blocking thread, then invalidates and publishes.
async fn apply(s: &AppState, layer: &str, edit: Edit) -> Result<Option<Change>, Problem> {
    let (store, name) = (s.store.clone(), layer.to_string());
    let change = tokio::task::spawn_blocking(move || store.edit(&name, edit))
        .await
        .map_err(|e| Problem::internal(e.to_string()))?
        .map_err(|e| match e {
            formosa_store::StoreError::Schema(m) => problem(StatusCode::BAD_REQUEST, m),
            e => Problem::internal(e.to_string()),
        })?;
    if let Some(c) = &change {
        invalidate(s, c);
        let _ = s.changes.send(c.clone());
    }
    Ok(change)
}

/// Drops every cached tile the change touches, and nothing else: vector tiles of the
/// layer and of the base map (and the layer's part of it), and the layer's 3D Tiles,
/// whose bounds (with the render buffer) meet the feature's envelope before or after the
/// edit; WMTS tiles of the layer and of the base map whose bounds (with their label
/// margin) meet it.
///
/// The keys are enumerated (a handful per zoom) and dropped one by one: a predicate over
/// the whole cache per write was evaluated by every cache read until its scan finished,
/// which under a surge of writes was a fifth of the server's time. Zooms where a large
/// edit meets more than `MAX_LISTED` tiles fall back to the predicate.
pub fn invalidate(s: &AppState, c: &Change) {
    let areas: Vec<Envelope> = [c.before, c.after].into_iter().flatten().collect();
    let grid_kinds = [format!("mvt:{}", c.layer), "mvt:basemap".to_string(), format!("{}{}", crate::http_tiles::PART_PREFIX, c.layer), format!("3dtiles:{}", c.layer)];
    let mut places = Vec::new();
    let mut overflow: Vec<u8> = Vec::new();
    for z in 0..=crate::tiles::MAX_ZOOM as u8 {
        for a in &areas {
            let (x0, y0, x1, y1) = crate::tiles::tiles_touching(a, z);
            if (x1 - x0 + 1) as u64 * (y1 - y0 + 1) as u64 > MAX_LISTED {
                overflow.push(z);
                continue;
            }
            places.extend((x0..=x1).flat_map(|x| (y0..=y1).map(move |y| (0u8, z, x, y))));
        }
    }
    s.tiles.invalidate_places(&places, |k| grid_kinds.iter().any(|g| g == k));
    let wmts_kinds = [format!("{}{}:", crate::ogc::wmts::KIND_PREFIX, c.layer), format!("{}{}:", crate::ogc::wmts::KIND_PREFIX, crate::render::BASEMAP)];
    // A report drawn in a cluster moves that cluster, which can sit a cell away from it.
    let clustered = areas.iter().any(crate::cluster::point_sized) && s.store.layer(&c.layer).is_some_and(|l| crate::cluster::clusters(&l, 0));
    let margin = crate::ogc::wms::LABEL_MARGIN_PX + if clustered { crate::cluster::MAX_CELL_DIAGONAL_PX } else { 0.0 };
    let mut places = Vec::new();
    let mut wmts_overflow = false;
    for (i, set) in crate::ogc::matrix::TileMatrixSet::all().iter().enumerate() {
        for level in 0..set.matrices.len() {
            for a in &areas {
                let Some((c0, r0, c1, r1)) = set.tiles_touching(level, a, margin) else { continue };
                if (c1 - c0 + 1) as u64 * (r1 - r0 + 1) as u64 > MAX_LISTED {
                    wmts_overflow = true;
                    continue;
                }
                places.extend((c0..=c1).flat_map(|col| (r0..=r1).map(move |row| (1 + i as u8, level as u8, col, row))));
            }
        }
    }
    s.tiles.invalidate_places(&places, |k| wmts_kinds.iter().any(|w| k.starts_with(w.as_str())));
    if !overflow.is_empty() || wmts_overflow {
        let layer = c.layer.clone();
        s.tiles.invalidate(move |k: &TileKey| match crate::ogc::wmts::tile_reads(k) {
            Some((tile_layer, bounds)) => wmts_overflow && (tile_layer == layer || tile_layer == crate::render::BASEMAP) && areas.iter().any(|a| a.intersects(&bounds)),
            None => overflow.contains(&k.z) && grid_kinds.contains(&k.kind) && areas.iter().any(|a| touches(k, a)),
        });
    }
}

/// Tiles per zoom (and per area) an edit's invalidation lists one by one.
const MAX_LISTED: u64 = 4096;

/// Whether tile k (with its 8-px buffer) meets envelope `a` (lon/lat).
pub fn touches(k: &TileKey, a: &Envelope) -> bool {
    a.intersects(&buffered_bounds(k.z, k.x, k.y))
}

fn created(headers: &HeaderMap, layer: &str, fid: i64, doc: Json) -> Response {
    let location = format!("{}/ogcapi/collections/{layer}/items/{fid}", base_url(headers));
    let mut r = (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/geo+json")], doc.to_string()).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn writable(layer: &str) -> Result<(), Problem> {
    if layer == INCIDENTS {
        Ok(())
    } else {
        Err(problem(StatusCode::METHOD_NOT_ALLOWED, format!("collection '{layer}' is read-only here; incidents take POST/PUT/PATCH/DELETE, pipelines take PATCH of \"status\"")))
    }
}

async fn read_back(s: &AppState, layer: &str, fid: i64) -> Result<Json, Problem> {
    let has_z = s.store.layer(layer).is_some_and(|l| l.info.has_z);
    let f = s.store.feature(layer, fid).map_err(|e| Problem::internal(e.to_string()))?.ok_or_else(|| Problem::internal("the written feature is gone"))?;
    Ok(geojson::feature(&f, has_z))
}

/// POST /ogcapi/collections/incidents/items
pub async fn create(State(s): State<AppState>, headers: HeaderMap, Path(layer): Path<String>, body: Bytes) -> Response {
    if let Err(r) = authorise(&s, &headers) {
        return r;
    }
    let result = async {
        writable(&layer)?;
        let mut f = geojson::parse_feature(&parse_body(&body)?, LayerKind::Incidents).map_err(|m| problem(StatusCode::BAD_REQUEST, m))?;
        check_incident(&mut f).map_err(|m| problem(StatusCode::BAD_REQUEST, m))?;
        let c = apply(&s, &layer, Edit::Insert(f)).await?.ok_or_else(|| Problem::internal("insert reported no change"))?;
        Ok::<_, Problem>(created(&headers, &layer, c.fid, read_back(&s, &layer, c.fid).await?))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// PUT /ogcapi/collections/incidents/items/{fid}
pub async fn replace(State(s): State<AppState>, headers: HeaderMap, Path((layer, fid)): Path<(String, String)>, body: Bytes) -> Response {
    if let Err(r) = authorise(&s, &headers) {
        return r;
    }
    let result = async {
        writable(&layer)?;
        let fid = parse_fid(&fid)?;
        let mut f = geojson::parse_feature(&parse_body(&body)?, LayerKind::Incidents).map_err(|m| problem(StatusCode::BAD_REQUEST, m))?;
        check_incident(&mut f).map_err(|m| problem(StatusCode::BAD_REQUEST, m))?;
        apply(&s, &layer, Edit::Replace(fid, f)).await?.ok_or_else(|| Problem::not_found(format!("collection '{layer}' has no feature {fid}")))?;
        Ok::<_, Problem>(([(header::CONTENT_TYPE, "application/geo+json")], read_back(&s, &layer, fid).await?.to_string()).into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// PATCH /ogcapi/collections/{incidents|pipelines}/items/{fid}: merges the given
/// properties (and geometry, for incidents) into the feature.
pub async fn patch(State(s): State<AppState>, headers: HeaderMap, Path((layer, fid)): Path<(String, String)>, body: Bytes) -> Response {
    if let Err(r) = authorise(&s, &headers) {
        return r;
    }
    let result = async {
        let fid = parse_fid(&fid)?;
        let kind = s.store.layer(&layer).and_then(|l| l.info.feature_kind()).ok_or_else(|| Problem::not_found(format!("no collection '{layer}'")))?;
        let patch = parse_body(&body)?;
        let props = match patch.get("properties") {
            Some(Json::Object(m)) => m.clone(),
            None | Some(Json::Null) => Default::default(),
            Some(_) => return Err(problem(StatusCode::BAD_REQUEST, "\"properties\" must be an object")),
        };
        match kind {
            LayerKind::Incidents => {}
            LayerKind::Pipelines => {
                if patch.get("geometry").is_some_and(|g| !g.is_null()) || props.keys().any(|k| k != "status") {
                    return Err(problem(StatusCode::FORBIDDEN, "pipelines take only \"status\" changes (e.g. {\"properties\": {\"status\": \"damaged\"}})"));
                }
            }
            _ => return Err(writable(&layer).unwrap_err()),
        }
        let current = s.store.feature(&layer, fid).map_err(|e| Problem::internal(e.to_string()))?.ok_or_else(|| Problem::not_found(format!("collection '{layer}' has no feature {fid}")))?;
        let mut values: Vec<Value> = kind.columns().iter().map(|c| current.property(c.name).cloned().unwrap_or(Value::Null)).collect();
        let mut extra = serde_json::Map::new();
        for (k, v) in current.properties.iter().skip(kind.columns().len()) {
            extra.insert(k.to_string(), geojson::value(v));
        }
        for (k, v) in &props {
            match kind.columns().iter().position(|c| c.name == k.as_str()) {
                Some(i) => values[i] = geojson::parse_value(v, &kind.columns()[i]).map_err(|m| problem(StatusCode::BAD_REQUEST, m))?,
                None => {
                    extra.insert(k.clone(), v.clone());
                }
            }
        }
        let geometry = match patch.get("geometry").filter(|g| !g.is_null()) {
            Some(g) => geojson::parse_geometry(g).map_err(|m| problem(StatusCode::BAD_REQUEST, m))?,
            None => current.geometry.clone(),
        };
        let mut f = NewFeature { geometry, values, extra };
        if kind == LayerKind::Incidents {
            check_incident(&mut f).map_err(|m| problem(StatusCode::BAD_REQUEST, m))?;
        }
        apply(&s, &layer, Edit::Replace(fid, f)).await?.ok_or_else(|| Problem::not_found(format!("collection '{layer}' has no feature {fid}")))?;
        Ok(([(header::CONTENT_TYPE, "application/geo+json")], read_back(&s, &layer, fid).await?.to_string()).into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// DELETE /ogcapi/collections/incidents/items/{fid}
pub async fn delete(State(s): State<AppState>, headers: HeaderMap, Path((layer, fid)): Path<(String, String)>) -> Response {
    if let Err(r) = authorise(&s, &headers) {
        return r;
    }
    let result = async {
        writable(&layer)?;
        let fid = parse_fid(&fid)?;
        apply(&s, &layer, Edit::Delete(fid)).await?.ok_or_else(|| Problem::not_found(format!("collection '{layer}' has no feature {fid}")))?;
        Ok::<_, Problem>(StatusCode::NO_CONTENT.into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// GET /changes?since=SEQ&limit=N: committed edits after SEQ, oldest first.
pub async fn changes(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, Problem> {
    let (mut since, mut limit) = (0i64, 1000usize);
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "since" => since = v.parse().map_err(|_| problem(StatusCode::BAD_REQUEST, format!("since '{v}' must be a change number (the \"seq\" of the last change seen, or 0)")))?,
            "limit" => limit = v.parse().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| problem(StatusCode::BAD_REQUEST, format!("limit '{v}' must be 1 to 10000")))?,
            other => return Err(problem(StatusCode::BAD_REQUEST, format!("unknown query parameter '{other}'; use since and limit"))),
        }
    }
    let store = s.store.clone();
    let (list, last) = tokio::task::spawn_blocking(move || Ok::<_, formosa_store::StoreError>((store.changes_since(since, limit)?, store.last_change()?)))
        .await
        .map_err(|e| Problem::internal(e.to_string()))?
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(json!({ "changes": list, "last": last }))).into_response())
}

/// GET /changes/stream: each committed edit as a Server-Sent Event (`id` = seq). A
/// client that reconnects with Last-Event-ID gets what it missed first.
pub async fn stream(State(s): State<AppState>, headers: HeaderMap) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let since: i64 = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(-1);
    let mut rx = s.changes.subscribe();
    let store = s.store.clone();
    let missed = if since >= 0 { tokio::task::spawn_blocking(move || store.changes_since(since, 10_000).unwrap_or_default()).await.unwrap_or_default() } else { Vec::new() };
    let stream = async_stream::stream! {
        let mut last = since;
        for c in missed {
            last = c.seq;
            yield Ok(event(&c));
        }
        loop {
            match rx.recv().await {
                Ok(c) if c.seq > last => { last = c.seq; yield Ok(event(&c)); }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
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
