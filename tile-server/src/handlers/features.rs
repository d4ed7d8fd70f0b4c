//! OGC API – Features, Part 1 Core (reads) at `/ogcapi`: landing page, conformance,
//! collections, items (bbox, limit, offset, property filters, paging links) and single
//! items, as GeoJSON. Writes (Part 4) are in `edits.rs`.

use crate::http::{base_url, parse_fid};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use formosa_encoders::geojson;
use formosa_store::{Attributes, Envelope, FeatureLayer, Value};
use serde_json::{json, Value as Json};
use std::sync::Arc;

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 10_000;

fn geojson_response(doc: String) -> Response {
    ([(header::CONTENT_TYPE, "application/geo+json")], doc).into_response()
}

pub async fn landing(headers: HeaderMap) -> Response {
    let base = format!("{}/ogcapi", base_url(&headers));
    axum::Json(json!({
        "title": "Formosa 國家共通底圖 — OGC API Features",
        "description": "Every layer of the common base map as GeoJSON; disaster reports (incidents) and pipeline status are writable (OGC API Features Part 4) with a bearer token.",
        "links": [
            { "href": format!("{base}"), "rel": "self", "type": "application/json", "title": "this document" },
            { "href": format!("{base}/conformance"), "rel": "conformance", "type": "application/json", "title": "conformance classes" },
            { "href": format!("{base}/collections"), "rel": "data", "type": "application/json", "title": "collections" },
        ],
    }))
    .into_response()
}

pub async fn conformance() -> Response {
    axum::Json(json!({ "conformsTo": [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    ] }))
    .into_response()
}

fn collection_json(base: &str, l: &formosa_store::LayerInfo) -> Json {
    let e = l.extent;
    let name = &l.name;
    json!({
        "id": name,
        "title": name,
        "description": format!("{} layer ({} features at last import) from {}", l.kind, l.feature_count, l.source),
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": { "spatial": { "bbox": [e.map(|e| [e.min_x, e.min_y, e.max_x, e.max_y]).unwrap_or([-180.0, -90.0, 180.0, 90.0])], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84" } },
        "links": [
            { "href": format!("{base}/collections/{name}"), "rel": "self", "type": "application/json" },
            { "href": format!("{base}/collections/{name}/items"), "rel": "items", "type": "application/geo+json" },
        ],
    })
}

fn feature_layer(s: &AppState, id: &str) -> Result<Arc<dyn FeatureLayer>, Problem> {
    s.store.feature_layer(id).ok_or_else(|| Problem::not_found(format!("no collection '{id}'; see /ogcapi/collections")))
}

pub async fn collections(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let base = format!("{}/ogcapi", base_url(&headers));
    let list: Vec<Json> = s.store.layers().iter().filter(|l| l.feature_kind().is_some()).map(|l| collection_json(&base, l)).collect();
    axum::Json(json!({ "links": [{ "href": format!("{base}/collections"), "rel": "self", "type": "application/json" }], "collections": list })).into_response()
}

pub async fn collection(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Problem> {
    let l = feature_layer(&s, &id)?;
    Ok(axum::Json(collection_json(&format!("{}/ogcapi", base_url(&headers)), l.info())).into_response())
}

/// The items query, parsed: unknown parameters are refused (Part 1, /req/core/query-param-unknown).
struct ItemsQuery {
    bbox: Option<Envelope>,
    limit: usize,
    offset: usize,
    filters: Vec<(String, String)>,
}

fn parse_query(raw: Option<&str>, l: &dyn FeatureLayer) -> Result<ItemsQuery, Problem> {
    let kind = l.kind();
    let mut q = ItemsQuery { bbox: None, limit: DEFAULT_LIMIT, offset: 0, filters: Vec::new() };
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "bbox" => {
                let n: Vec<f64> = v
                    .split(',')
                    .map(|x| x.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| Problem::bad_request(format!("bbox '{v}' must be four numbers: minLon,minLat,maxLon,maxLat")))?;
                if n.len() != 4 {
                    return Err(Problem::bad_request(format!("bbox '{v}' must be four numbers: minLon,minLat,maxLon,maxLat (got {})", n.len())));
                }
                if n[0] > n[2] || n[1] > n[3] || n.iter().any(|x| !x.is_finite()) {
                    return Err(Problem::bad_request(format!("bbox '{v}': the minimum must not exceed the maximum")));
                }
                q.bbox = Some(Envelope { min_x: n[0], min_y: n[1], max_x: n[2], max_y: n[3] });
            }
            "limit" => {
                q.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| Problem::bad_request(format!("limit '{v}' must be a whole number from 1 to {MAX_LIMIT}")))?;
            }
            "offset" => q.offset = v.parse().map_err(|_| Problem::bad_request(format!("offset '{v}' must be a whole number ≥ 0")))?,
            "f" if v == "json" || v == "geojson" => {}
            name if kind.columns().iter().any(|c| c.name == name) => q.filters.push((name.to_string(), v.into_owned())),
            other => {
                let known: Vec<&str> = kind.columns().iter().map(|c| c.name).collect();
                return Err(Problem::bad_request(format!("unknown query parameter '{other}'; use bbox, limit, offset or a property: {}", known.join(", "))));
            }
        }
    }
    Ok(q)
}

fn matches(f: &formosa_store::Feature, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, want)| match f.property(k) {
        Some(Value::Text(s)) => s == want,
        Some(Value::Integer(i)) => want.parse::<i64>().is_ok_and(|w| w == *i),
        Some(Value::Real(r)) => want.parse::<f64>().is_ok_and(|w| w == *r),
        _ => false,
    })
}

pub async fn items(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Result<Response, Problem> {
    let l = feature_layer(&s, &id)?;
    let q = parse_query(raw.as_deref(), l.as_ref())?;
    let layer = l.clone();
    let page = tokio::task::spawn_blocking(move || -> Result<(usize, Vec<formosa_store::Feature>), Problem> {
        let world = Envelope { min_x: -180.0, min_y: -90.0, max_x: 180.0, max_y: 90.0 };
        let mut ids = layer.query(&q.bbox.unwrap_or(world));
        ids.sort_unstable();
        if q.filters.is_empty() {
            let matched = ids.len();
            let slice: Vec<i64> = ids.into_iter().skip(q.offset).take(q.limit).collect();
            return Ok((matched, layer.features(&slice, Attributes::All)?));
        }
        let mut matched = 0;
        let mut out = Vec::new();
        for chunk in ids.chunks(4096) {
            for f in layer.features(chunk, Attributes::All)? {
                if matches(&f, &q.filters) {
                    if matched >= q.offset && out.len() < q.limit {
                        out.push(f);
                    }
                    matched += 1;
                }
            }
        }
        Ok((matched, out))
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))??;
    let (matched, features) = page;
    let base = format!("{}/ogcapi/collections/{id}/items", base_url(&headers));
    let keep: Vec<String> = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .filter(|(k, _)| k != "offset" && k != "limit")
        .map(|(k, v)| form_urlencoded::Serializer::new(String::new()).append_pair(&k, &v).finish())
        .collect();
    let link = |offset: usize| {
        let mut parts = keep.clone();
        parts.push(format!("limit={}", q.limit));
        parts.push(format!("offset={offset}"));
        format!("{base}?{}", parts.join("&"))
    };
    let mut links = vec![json!({ "href": link(q.offset), "rel": "self", "type": "application/geo+json" })];
    if q.offset + features.len() < matched {
        links.push(json!({ "href": link(q.offset + q.limit), "rel": "next", "type": "application/geo+json" }));
    }
    if q.offset > 0 {
        links.push(json!({ "href": link(q.offset.saturating_sub(q.limit)), "rel": "prev", "type": "application/geo+json" }));
    }
    let with_z = l.info().has_z;
    let members = json!({
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "numberMatched": matched,
        "numberReturned": features.len(),
        "links": links,
    });
    let features = features.iter().map(|f| geojson::feature(f, with_z, None)).collect();
    Ok(geojson_response(geojson::collection(features, members.as_object().cloned()).to_string()))
}

pub async fn item(State(s): State<AppState>, headers: HeaderMap, Path((id, fid)): Path<(String, String)>) -> Result<Response, Problem> {
    let l = feature_layer(&s, &id)?;
    let fid = parse_fid(&fid)?;
    let f = l.feature(fid)?.ok_or_else(|| Problem::not_found(format!("collection '{id}' has no feature {fid}")))?;
    let base = format!("{}/ogcapi/collections/{id}", base_url(&headers));
    let links = json!({ "links": [
        { "href": format!("{base}/items/{fid}"), "rel": "self", "type": "application/geo+json" },
        { "href": base, "rel": "collection", "type": "application/json" },
    ] });
    Ok(geojson_response(geojson::feature(&f, l.info().has_z, links.as_object().cloned()).to_string()))
}
