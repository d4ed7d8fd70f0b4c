//! The rules of each layer kind: how source attributes become the kind's typed columns,
//! which values are derived (parcel areas, building heights from floors), which are
//! normalised (utility types) and which are impossible (negative heights, absurd depths).

use crate::attributes::FieldMap;
use crate::geometry::Expect;
use formosa_store::{coerce, Geometry, LayerKind, NewFeature, Value};

/// Heights and depths beyond these are data errors, not buildings or pipes.
pub const MAX_BUILDING_HEIGHT_M: f64 = 1000.0;
pub const MAX_FLOORS: i64 = 200;
pub const MAX_PIPE_DEPTH_M: f64 = 100.0;
pub const MAX_PIPE_DIAMETER_MM: f64 = 10_000.0;

#[derive(Debug, Clone)]
pub struct KindSettings {
    /// Height of one storey, for buildings given floors but no height.
    pub storey_height_m: f64,
}

impl KindSettings {
    /// Settings with this storey height, if it is one: more than 1 m and less than 10 m.
    /// (Unchecked, 0 made buildings of height 0 and 1e308 infinite ones: the fuzzer.)
    pub fn with_storey_height(storey_height_m: f64) -> Result<KindSettings, String> {
        if storey_height_m > 1.0 && storey_height_m < 10.0 {
            Ok(KindSettings { storey_height_m })
        } else {
            Err(format!("{storey_height_m} m is not a storey height (expected between 1 and 10 m)"))
        }
    }
}

impl Default for KindSettings {
    fn default() -> Self {
        Self { storey_height_m: 3.3 }
    }
}

pub fn expected_geometry(kind: LayerKind) -> Expect {
    match kind {
        LayerKind::Cadastral | LayerKind::Buildings => Expect::Polygons,
        LayerKind::Pipelines => Expect::Lines,
        LayerKind::Vector | LayerKind::Incidents => Expect::Any,
    }
}

/// Normalises a utility type written in Chinese or English.
pub fn utility_type(raw: &str) -> &'static str {
    let s = raw.trim().to_lowercase();
    let has = |keys: &[&str]| keys.iter().any(|k| s.contains(k));
    if has(&["自來水", "給水", "供水", "water", "水道"]) && !has(&["污水", "下水道", "sewer", "雨水"]) {
        "water"
    } else if has(&["瓦斯", "天然氣", "燃氣", "gas"]) {
        "gas"
    } else if has(&["電力", "輸電", "配電", "power", "electric"]) {
        "power"
    } else if has(&["電信", "通信", "通訊", "telecom", "fiber", "光纖", "cable tv", "有線電視"]) {
        "telecom"
    } else if has(&["污水", "下水道", "雨水", "排水", "sewer", "drain", "storm"]) {
        "sewer"
    } else {
        "other"
    }
}

/// Builds the store feature from the source's attribute values (by source field index).
/// `area_twd97` computes a polygon's area in m² in TWD97, when the source gives none.
/// Returns notes of what was derived or repaired, or the reason to skip the feature.
pub fn build_feature(
    kind: LayerKind,
    map: &FieldMap,
    field_names: &[String],
    fields: &[Value],
    geometry: Geometry,
    settings: &KindSettings,
    area_twd97: &mut dyn FnMut(&Geometry) -> f64,
) -> Result<(NewFeature, Vec<String>), String> {
    let columns = kind.columns();
    let mut notes = Vec::new();
    let mut values: Vec<Value> = columns
        .iter()
        .zip(&map.columns)
        .map(|(c, src)| match src {
            Some(i) => {
                let v = coerce(fields[*i].clone(), c.ty);
                if v.is_null() && !fields[*i].is_null() && !matches!(&fields[*i], Value::Text(t) if t.trim().is_empty()) {
                    notes.push(format!("{} {:?} is not {}: left empty", c.name, fields[*i], c.ty.sql().to_lowercase()));
                }
                v
            }
            None => Value::Null,
        })
        .map(|v| match v {
            Value::Text(s) if s.trim().is_empty() => Value::Null,
            Value::Text(s) => Value::Text(s.trim().to_string()),
            Value::Real(r) if !r.is_finite() => Value::Null,
            v => v,
        })
        .collect();
    let col = |name: &str| columns.iter().position(|c| c.name == name).expect("known column");
    match kind {
        LayerKind::Cadastral => {
            let a = col("area_m2");
            match values[a].as_f64() {
                Some(area) if area > 0.0 => {}
                Some(area) => return Err(format!("parcel area {area} m² is not positive")),
                None => {
                    values[a] = Value::Real((area_twd97(&geometry) * 100.0).round() / 100.0);
                    notes.push("area computed in TWD97".into());
                }
            }
        }
        LayerKind::Buildings => {
            let (h, f) = (col("height_m"), col("floors"));
            let floors = values[f].as_f64();
            match values[h].as_f64() {
                Some(height) if height > 0.0 && height <= MAX_BUILDING_HEIGHT_M => {}
                Some(height) => return Err(format!("building height {height} m is impossible (allowed above 0, up to {MAX_BUILDING_HEIGHT_M} m)")),
                None => {}
            }
            if let Some(n) = floors {
                if n < 0.0 || n > MAX_FLOORS as f64 {
                    return Err(format!("{n} floors is impossible (allowed 0..{MAX_FLOORS})"));
                }
            }
            if values[h].is_null() {
                match floors {
                    Some(n) if n >= 1.0 => {
                        values[h] = Value::Real((n * settings.storey_height_m * 100.0).round() / 100.0);
                        notes.push(format!("height from floors × {} m", settings.storey_height_m));
                    }
                    _ => {
                        values[h] = Value::Real(settings.storey_height_m);
                        notes.push("no height or floors: assumed one storey".into());
                    }
                }
            }
        }
        LayerKind::Pipelines => {
            let u = col("utility");
            let raw = values[u].as_str().unwrap_or("").to_string();
            values[u] = Value::Text(utility_type(&raw).to_string());
            if let Some(d) = values[col("depth_m")].as_f64() {
                if !(0.0..=MAX_PIPE_DEPTH_M).contains(&d) {
                    return Err(format!("pipe depth {d} m is impossible (allowed 0..{MAX_PIPE_DEPTH_M} m below ground)"));
                }
            }
            if let Some(d) = values[col("diameter_mm")].as_f64() {
                if d <= 0.0 || d > MAX_PIPE_DIAMETER_MM {
                    return Err(format!("pipe diameter {d} mm is impossible (allowed above 0, up to {MAX_PIPE_DIAMETER_MM} mm)"));
                }
            }
            let s = col("status");
            if values[s].is_null() {
                values[s] = Value::Text("in_service".into());
            }
        }
        LayerKind::Vector | LayerKind::Incidents => {}
    }
    let mut extra = serde_json::Map::new();
    for &i in &map.unmapped {
        let v = match &fields[i] {
            Value::Null => continue,
            Value::Integer(n) => serde_json::Value::from(*n),
            Value::Real(r) => serde_json::Number::from_f64(*r).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null),
            Value::Text(s) => serde_json::Value::from(s.clone()),
        };
        extra.insert(field_names[i].clone(), v);
    }
    Ok((NewFeature { geometry, values, extra }, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Geometry {
        Geometry::MultiPolygon(vec![vec![vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])
    }

    fn build(kind: LayerKind, names: &[&str], fields: Vec<Value>) -> Result<(NewFeature, Vec<String>), String> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let map = FieldMap::resolve(kind, &names, &[]).unwrap();
        build_feature(kind, &map, &names, &fields, square(), &KindSettings::default(), &mut |_| 123.456)
    }

    #[test]
    fn utility_types_in_chinese_and_english() {
        assert_eq!(utility_type("自來水"), "water");
        assert_eq!(utility_type("污水"), "sewer");
        assert_eq!(utility_type("天然氣"), "gas");
        assert_eq!(utility_type("Power"), "power");
        assert_eq!(utility_type("電信"), "telecom");
        assert_eq!(utility_type("?"), "other");
    }

    #[test]
    fn building_height_from_floors_and_absurd_heights() {
        let (f, notes) = build(LayerKind::Buildings, &["樓層"], vec![Value::Integer(10)]).unwrap();
        assert_eq!(f.values[0], Value::Real(33.0));
        assert_eq!(notes, vec!["height from floors × 3.3 m"]);
        let e = build(LayerKind::Buildings, &["height"], vec![Value::Real(-5.0)]).unwrap_err();
        assert!(e.contains("-5 m is impossible"), "{e}");
        assert!(build(LayerKind::Buildings, &["height"], vec![Value::Real(2000.0)]).is_err());
    }

    #[test]
    fn parcel_area_is_computed_when_absent_and_extras_kept() {
        let (f, _) = build(LayerKind::Cadastral, &["地號", "備註"], vec![Value::Text("0512-0003".into()), Value::Text("x".into())]).unwrap();
        assert_eq!(f.values[0], Value::Text("0512-0003".into()));
        assert_eq!(f.values[5], Value::Real(123.46));
        assert_eq!(f.extra["備註"], serde_json::json!("x"));
    }

    #[test]
    fn pipe_depths_are_checked() {
        let e = build(LayerKind::Pipelines, &["埋深"], vec![Value::Real(-3.0)]).unwrap_err();
        assert!(e.contains("depth -3 m"), "{e}");
        let e = build(LayerKind::Pipelines, &["埋深"], vec![Value::Real(250.0)]).unwrap_err();
        assert!(e.contains("250"), "{e}");
    }
}
