//! GeoJSON (RFC 7946) for the feature API: store features out, client features in, with
//! a precise reason for every malformed input.
//!
//! Out: through the `geojson` crate's types, serialised straight to bytes — 2.3–4× faster
//! than building a serde_json tree (`benches/benches/codecs.rs`). In: our own parser,
//! because the crate accepts unclosed rings, out-of-range positions and one-point lines,
//! and its errors carry no path to the bad value (`benches/tests/codecs.rs`).

use formosa_store::{Coord, Feature, Geometry, LayerKind, NewFeature, Value};
use geojson::{GeometryValue, Position};
use serde_json::{json, Map, Value as Json};

fn position(c: &Coord, with_z: bool) -> Position {
    if with_z {
        Position::from(vec![c[0], c[1], c[2]])
    } else {
        Position::from([c[0], c[1]])
    }
}

pub fn geometry(g: &Geometry, with_z: bool) -> geojson::Geometry {
    let line = |l: &Vec<Coord>| l.iter().map(|c| position(c, with_z)).collect::<Vec<_>>();
    geojson::Geometry::new(match g {
        Geometry::Point(c) => GeometryValue::Point { coordinates: position(c, with_z) },
        Geometry::MultiPoint(cs) => GeometryValue::MultiPoint { coordinates: cs.iter().map(|c| position(c, with_z)).collect() },
        Geometry::MultiLineString(ls) => GeometryValue::MultiLineString { coordinates: ls.iter().map(line).collect() },
        Geometry::MultiPolygon(ps) => GeometryValue::MultiPolygon { coordinates: ps.iter().map(|rings| rings.iter().map(line).collect()).collect() },
    })
}

pub fn value(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Integer(i) => json!(i),
        Value::Real(r) if r.is_finite() => json!(r),
        Value::Real(_) => Json::Null,
        Value::Text(s) => json!(s),
    }
}

/// A store feature as a GeoJSON feature; `members` are added beside its standard ones
/// (OGC API links, the layer a feature-info hit comes from).
pub fn feature(f: &Feature, with_z: bool, members: Option<Map<String, Json>>) -> geojson::Feature {
    let props: Map<String, Json> = f.properties.iter().map(|(k, v)| (k.to_string(), value(v))).collect();
    geojson::Feature {
        bbox: None,
        geometry: Some(geometry(&f.geometry, with_z)),
        id: Some(geojson::feature::Id::Number(f.id.into())),
        properties: Some(props),
        foreign_members: members,
    }
}

/// A feature collection with `members` (OGC API's counts, time stamp and links).
pub fn collection(features: Vec<geojson::Feature>, members: Option<Map<String, Json>>) -> geojson::FeatureCollection {
    geojson::FeatureCollection { bbox: None, features, foreign_members: members }
}

fn parse_position(v: &Json, at: &str) -> Result<Coord, String> {
    let a = v.as_array().ok_or_else(|| format!("{at}: a position is an array [lon, lat] or [lon, lat, h]"))?;
    if a.len() < 2 || a.len() > 3 {
        return Err(format!("{at}: a position has 2 or 3 numbers, this one has {}", a.len()));
    }
    let n: Vec<f64> = a.iter().map(|x| x.as_f64().filter(|f| f.is_finite())).collect::<Option<_>>().ok_or_else(|| format!("{at}: coordinates must be finite numbers"))?;
    if !(-180.0..=180.0).contains(&n[0]) || !(-90.0..=90.0).contains(&n[1]) {
        return Err(format!("{at}: ({}, {}) is not a WGS84 longitude/latitude (GeoJSON is always CRS84)", n[0], n[1]));
    }
    Ok([n[0], n[1], n.get(2).copied().unwrap_or(0.0)])
}

fn parse_line(v: &Json, at: &str, min: usize) -> Result<Vec<Coord>, String> {
    let a = v.as_array().ok_or_else(|| format!("{at}: expected an array of positions"))?;
    let pts: Vec<Coord> = a.iter().enumerate().map(|(i, p)| parse_position(p, &format!("{at}[{i}]"))).collect::<Result<_, _>>()?;
    if pts.len() < min {
        return Err(format!("{at}: needs at least {min} positions, has {}", pts.len()));
    }
    Ok(pts)
}

fn parse_polygon(v: &Json, at: &str) -> Result<Vec<Vec<Coord>>, String> {
    let rings = v.as_array().ok_or_else(|| format!("{at}: a polygon is an array of rings"))?;
    if rings.is_empty() {
        return Err(format!("{at}: a polygon needs an exterior ring"));
    }
    rings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ring = parse_line(r, &format!("{at}[{i}]"), 4)?;
            if ring.first().map(|c| [c[0], c[1]]) != ring.last().map(|c| [c[0], c[1]]) {
                return Err(format!("{at}[{i}]: a linear ring must end where it starts"));
            }
            Ok(ring)
        })
        .collect()
}

/// A GeoJSON geometry as the store keeps it (lines and polygons always multi).
pub fn parse_geometry(g: &Json) -> Result<Geometry, String> {
    let kind = g.get("type").and_then(Json::as_str).ok_or("geometry: missing \"type\"")?;
    let c = g.get("coordinates").ok_or_else(|| format!("geometry: a {kind} needs \"coordinates\""))?;
    Ok(match kind {
        "Point" => Geometry::Point(parse_position(c, "geometry.coordinates")?),
        "MultiPoint" => Geometry::MultiPoint(parse_line(c, "geometry.coordinates", 1)?),
        "LineString" => Geometry::MultiLineString(vec![parse_line(c, "geometry.coordinates", 2)?]),
        "MultiLineString" => Geometry::MultiLineString(
            c.as_array()
                .ok_or("geometry.coordinates: expected an array of lines")?
                .iter()
                .enumerate()
                .map(|(i, l)| parse_line(l, &format!("geometry.coordinates[{i}]"), 2))
                .collect::<Result<_, _>>()?,
        ),
        "Polygon" => Geometry::MultiPolygon(vec![parse_polygon(c, "geometry.coordinates")?]),
        "MultiPolygon" => Geometry::MultiPolygon(
            c.as_array()
                .ok_or("geometry.coordinates: expected an array of polygons")?
                .iter()
                .enumerate()
                .map(|(i, p)| parse_polygon(p, &format!("geometry.coordinates[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("geometry type {other} is not supported (Point, LineString, Polygon and their Multi forms are)")),
    })
}

/// A client's property value for a typed column.
pub fn parse_value(v: &Json, column: &formosa_store::Column) -> Result<Value, String> {
    use formosa_store::ColumnType::*;
    Ok(match (v, c_ty(column)) {
        (Json::Null, _) => Value::Null,
        (Json::String(s), Text) => Value::Text(s.clone()),
        (Json::Number(n), Integer) if n.as_i64().is_some() => Value::Integer(n.as_i64().unwrap_or_default()),
        (Json::Number(n), Real) => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        (other, ty) => {
            return Err(format!(
                "property \"{}\" must be {} (got {other})",
                column.name,
                match ty {
                    Text => "a string",
                    Integer => "a whole number",
                    Real => "a number",
                }
            ))
        }
    })
}

fn c_ty(c: &formosa_store::Column) -> formosa_store::ColumnType {
    c.ty
}

/// A GeoJSON Feature as a new feature of `kind`: typed properties into their columns,
/// others kept as source attributes.
pub fn parse_feature(body: &Json, kind: LayerKind) -> Result<NewFeature, String> {
    if body.get("type").and_then(Json::as_str) != Some("Feature") {
        return Err("the body must be a GeoJSON Feature ({\"type\": \"Feature\", \"geometry\": …, \"properties\": {…}})".into());
    }
    let geometry = parse_geometry(body.get("geometry").filter(|g| !g.is_null()).ok_or("a feature needs a geometry")?)?;
    let empty = Map::new();
    let props = match body.get("properties") {
        Some(Json::Object(m)) => m,
        None | Some(Json::Null) => &empty,
        Some(_) => return Err("\"properties\" must be an object".into()),
    };
    let mut values = Vec::with_capacity(kind.columns().len());
    for c in kind.columns() {
        values.push(props.get(c.name).map(|v| parse_value(v, c)).transpose()?.unwrap_or(Value::Null));
    }
    let extra: Map<String, Json> = props.iter().filter(|(k, _)| !kind.columns().iter().any(|c| c.name == k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(NewFeature { geometry, values, extra })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_round_trip_and_bad_input_is_named() {
        let body = json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [121.56, 25.03] },
            "properties": { "type": "flood", "severity": 4, "note": "積水 30 cm" } });
        let f = parse_feature(&body, LayerKind::Incidents).unwrap();
        assert_eq!(f.geometry, Geometry::Point([121.56, 25.03, 0.0]));
        assert_eq!(f.values[0], Value::Text("flood".into()));
        assert_eq!(f.values[1], Value::Integer(4));
        assert_eq!(f.extra["note"], json!("積水 30 cm"));
        let bad = |g: Json| parse_geometry(&g).unwrap_err();
        assert!(bad(json!({ "type": "Point", "coordinates": [250.0, 25.0] })).contains("not a WGS84"));
        assert!(bad(json!({ "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]] })).contains("end where it starts"));
        assert!(bad(json!({ "type": "LineString", "coordinates": [[0, 0]] })).contains("at least 2"));
        assert!(bad(json!({ "type": "Circle", "coordinates": [0, 0] })).contains("not supported"));
        let e =
            parse_feature(&json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [121.0, 25.0] }, "properties": { "severity": "high" } }), LayerKind::Incidents)
                .unwrap_err();
        assert!(e.contains("\"severity\" must be a whole number"), "{e}");
    }
}
