//! Live edits' rules, apart from HTTP: which layers take writes, what an incident must
//! carry, how a PATCH merges into a feature, and applying an edit durably (the store's
//! listeners then invalidate tiles and publish the change: `invalidation.rs`).

use crate::problem::Problem;
use axum::http::StatusCode;
use formosa_encoders::geojson;
use formosa_store::{Change, Edit, Feature, LayerKind, NewFeature, Store, Value};
use serde_json::Value as Json;
use std::sync::Arc;

/// The writable layer of disaster reports.
pub const INCIDENTS: &str = "incidents";

/// Whether `layer` takes whole-feature writes (POST, PUT, DELETE): incidents only.
pub fn writable(layer: &str) -> Result<(), Problem> {
    if layer == INCIDENTS {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("collection '{layer}' is read-only here; incidents take POST/PUT/PATCH/DELETE, pipelines take PATCH of \"status\""),
        ))
    }
}

/// Incidents' own rules: a type, a severity from 1 to 5, an RFC 3339 time (now if none).
pub fn check_incident(f: &mut NewFeature) -> Result<(), Problem> {
    let col = |name: &str| LayerKind::Incidents.columns().iter().position(|c| c.name == name).expect("incident column");
    match &f.values[col("type")] {
        Value::Text(t) if !t.trim().is_empty() => {}
        _ => return Err(Problem::bad_request("an incident needs a \"type\" (e.g. \"road_closure\", \"flood\", \"damaged_pipe\")")),
    }
    match f.values[col("severity")] {
        Value::Integer(1..=5) => {}
        Value::Null => f.values[col("severity")] = Value::Integer(3),
        ref v => return Err(Problem::bad_request(format!("\"severity\" must be 1 to 5, got {v:?}"))),
    }
    match &f.values[col("time")] {
        Value::Null => f.values[col("time")] = Value::Text(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        Value::Text(t) if chrono::DateTime::parse_from_rfc3339(t).is_ok() => {}
        v => return Err(Problem::bad_request(format!("\"time\" must be an RFC 3339 date-time such as 2026-11-23T08:30:00+08:00, got {v:?}"))),
    }
    Ok(())
}

/// A new incident from a GeoJSON feature body, checked.
pub fn new_incident(body: &Json) -> Result<NewFeature, Problem> {
    let mut f = geojson::parse_feature(body, LayerKind::Incidents).map_err(Problem::bad_request)?;
    check_incident(&mut f)?;
    Ok(f)
}

/// The properties a PATCH body sets, once its shape and the layer's rules allow it:
/// incidents take any change, pipelines `status` changes only, other layers none.
pub fn patch_properties(kind: LayerKind, layer: &str, patch: &Json) -> Result<serde_json::Map<String, Json>, Problem> {
    let props = match patch.get("properties") {
        Some(Json::Object(m)) => m.clone(),
        None | Some(Json::Null) => Default::default(),
        Some(_) => return Err(Problem::bad_request("\"properties\" must be an object")),
    };
    match kind {
        LayerKind::Incidents => {}
        LayerKind::Pipelines => {
            if patch.get("geometry").is_some_and(|g| !g.is_null()) || props.keys().any(|k| k != "status") {
                return Err(Problem::new(StatusCode::FORBIDDEN, "pipelines take only \"status\" changes (e.g. {\"properties\": {\"status\": \"damaged\"}})"));
            }
        }
        _ => return Err(writable(layer).unwrap_err()),
    }
    Ok(props)
}

/// `current` with a PATCH merged in: the properties (typed columns parsed, others kept as
/// source attributes) and, for incidents, the geometry; incidents are checked again.
pub fn patched(current: &Feature, kind: LayerKind, props: &serde_json::Map<String, Json>, patch: &Json) -> Result<NewFeature, Problem> {
    let mut values: Vec<Value> = kind.columns().iter().map(|c| current.property(c.name).cloned().unwrap_or(Value::Null)).collect();
    let mut extra = serde_json::Map::new();
    for (k, v) in current.properties.iter().skip(kind.columns().len()) {
        extra.insert(k.to_string(), geojson::value(v));
    }
    for (k, v) in props {
        match kind.columns().iter().position(|c| c.name == k.as_str()) {
            Some(i) => values[i] = geojson::parse_value(v, &kind.columns()[i]).map_err(Problem::bad_request)?,
            None => {
                extra.insert(k.clone(), v.clone());
            }
        }
    }
    let geometry = match patch.get("geometry").filter(|g| !g.is_null()) {
        Some(g) => geojson::parse_geometry(g).map_err(Problem::bad_request)?,
        None => current.geometry.clone(),
    };
    let mut f = NewFeature { geometry, values, extra };
    if kind == LayerKind::Incidents {
        check_incident(&mut f)?;
    }
    Ok(f)
}

/// Applies the edit durably on a blocking thread. The store's listeners have dropped the
/// touched tiles and published the change by the time this returns.
pub async fn apply(store: &Arc<dyn Store>, layer: &str, edit: Edit) -> Result<Option<Change>, Problem> {
    let (store, name) = (store.clone(), layer.to_string());
    Ok(tokio::task::spawn_blocking(move || store.edit(&name, edit)).await.map_err(|e| Problem::internal(e.to_string()))??)
}

/// The feature as stored after a write, as a GeoJSON document.
pub fn read_back(store: &dyn Store, layer: &str, fid: i64) -> Result<String, Problem> {
    let l = store.feature_layer(layer).ok_or_else(|| Problem::internal("the written layer is gone"))?;
    let f = l.feature(fid).map_err(|e| Problem::internal(e.to_string()))?.ok_or_else(|| Problem::internal("the written feature is gone"))?;
    Ok(geojson::feature(&f, l.info().has_z, None).to_string())
}
