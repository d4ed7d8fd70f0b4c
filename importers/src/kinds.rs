//! The rules of each layer kind: how source attributes become the kind's typed columns,
//! which values are derived (parcel areas, building heights from floors), which are
//! normalised (utility types) and which are impossible (negative heights, absurd depths).

use crate::attributes::FieldMap;
use crate::classes;
use crate::geometry::Expect;
use formosa_store::{coerce, Geometry, LayerKind, NewFeature, Value};

/// Heights and depths beyond these are data errors, not buildings or pipes.
pub const MAX_BUILDING_HEIGHT_M: f64 = 1000.0;
pub const MAX_FLOORS: i64 = 200;
pub const MAX_PIPE_DEPTH_M: f64 = 100.0;
pub const MAX_PIPE_DIAMETER_MM: f64 = 10_000.0;
/// Wider than this is a data error, not a road (the widest boulevards are about 100 m).
pub const MAX_ROAD_WIDTH_M: f64 = 200.0;
/// A shelter taking more people than this is a data error (the largest stadiums hold ~55,000).
pub const MAX_SHELTER_CAPACITY: i64 = 100_000;

/// Yes/no columns: 是/否, Y/N, true/false and 1/0 all read as 0 or 1.
const FLAG_COLUMNS: [&str; 3] = ["oneway", "bridge", "tunnel"];

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
        LayerKind::Pipelines | LayerKind::Roads | LayerKind::Railways => Expect::Lines,
        LayerKind::Water => Expect::LinesOrPolygons,
        LayerKind::Pois | LayerKind::Shelters => Expect::Point,
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
            Some(i) if FLAG_COLUMNS.contains(&c.name) => {
                let v = classes::flag(&fields[*i]);
                if v.is_none() && !fields[*i].is_null() && !matches!(&fields[*i], Value::Text(t) if t.trim().is_empty()) {
                    notes.push(format!("{} {:?} is not yes or no: taken as no", c.name, fields[*i]));
                }
                v.map(Value::Integer).unwrap_or(Value::Null)
            }
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
        LayerKind::Roads => {
            classify(&mut values[col("class")], "road", classes::road_class, &mut notes);
            let w = col("width_m");
            if let Some(width) = values[w].as_f64() {
                if width <= 0.0 || width > MAX_ROAD_WIDTH_M {
                    notes.push(format!("road width {width} m is impossible (allowed above 0, up to {MAX_ROAD_WIDTH_M} m): left empty"));
                    values[w] = Value::Null;
                }
            }
            zero_if_empty(&mut values, &col, &["oneway", "bridge", "tunnel", "level"]);
        }
        LayerKind::Railways => {
            classify(&mut values[col("class")], "railway", classes::railway_class, &mut notes);
            zero_if_empty(&mut values, &col, &["bridge", "tunnel"]);
        }
        LayerKind::Water => classify(&mut values[col("class")], "water", classes::water_class, &mut notes),
        LayerKind::Pois => classify(&mut values[col("class")], "landmark", classes::poi_class, &mut notes),
        LayerKind::Shelters => {
            if let Some(n) = values[col("capacity")].as_f64() {
                if n < 0.0 || n > MAX_SHELTER_CAPACITY as f64 {
                    return Err(format!("shelter capacity {n} is impossible (allowed 0..{MAX_SHELTER_CAPACITY} people)"));
                }
            }
            let t = col("type");
            if let Some(raw) = values[t].as_str().map(str::to_string) {
                values[t] = match classes::shelter_type(&raw) {
                    Some(kind) => Value::Text(kind.into()),
                    None => {
                        notes.push(format!("shelter type '{raw}' is neither indoor nor outdoor: left empty"));
                        Value::Null
                    }
                };
            }
            let d = col("disasters");
            if let Some(raw) = values[d].as_str().map(str::to_string) {
                let (known, unknown) = classes::disasters(&raw);
                if !unknown.is_empty() {
                    notes.push(format!("disaster types not known, left out: {}", unknown.join(", ")));
                }
                values[d] = if known.is_empty() { Value::Null } else { Value::Text(known.join(",")) };
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

/// Yes/no flags and levels nobody gave are 0: not a bridge, on the ground.
fn zero_if_empty(values: &mut [Value], col: &dyn Fn(&str) -> usize, names: &[&str]) {
    for name in names {
        let v = &mut values[col(name)];
        if v.is_null() {
            *v = Value::Integer(0);
        }
    }
}

/// A class column normalised by `table`: a word it does not know is kept as `other` with
/// a note saying what it was; no class at all is `other` too.
fn classify(value: &mut Value, what: &str, table: fn(&str) -> Option<&'static str>, notes: &mut Vec<String>) {
    let class = match value.as_str() {
        Some(raw) => table(raw).unwrap_or_else(|| {
            notes.push(format!("{what} class '{raw}' is not known: kept as other"));
            "other"
        }),
        None => "other",
    };
    *value = Value::Text(class.into());
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
    fn roads_from_chinese_fields_and_an_unknown_class_kept_as_other() {
        let names = ["道路名稱", "道路等級", "路寬", "單行道", "橋梁"];
        let t = |s: &str| Value::Text(s.into());
        let (f, notes) = build(LayerKind::Roads, &names, vec![t("信義路五段"), t("市區道路"), Value::Real(40.0), t("否"), t("是")]).unwrap();
        // name, class, width_m, oneway, bridge, tunnel, level
        assert_eq!(f.values, vec![t("信義路五段"), t("street"), Value::Real(40.0), Value::Integer(0), Value::Integer(1), Value::Integer(0), Value::Integer(0)]);
        assert!(notes.is_empty(), "{notes:?}");
        let (f, notes) = build(LayerKind::Roads, &names, vec![t("x"), t("天梯"), Value::Real(-3.0), t("maybe"), Value::Null]).unwrap();
        assert_eq!(f.values[1], t("other"));
        assert_eq!(f.values[2], Value::Null);
        assert!(notes.iter().any(|n| n == "road class '天梯' is not known: kept as other"), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("road width -3 m is impossible")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("oneway") && n.contains("not yes or no")), "{notes:?}");
    }

    #[test]
    fn shelters_are_checked_and_their_disasters_normalised() {
        let names = ["避難收容處所名稱", "預計收容人數", "避難收容處所地址", "類型", "適用災害類別"];
        let t = |s: &str| Value::Text(s.into());
        let (f, notes) = build(LayerKind::Shelters, &names, vec![t("信義國小"), Value::Integer(450), t("臺北市信義區松仁路158號"), t("室內"), t("水災、震災、土石流")]).unwrap();
        assert_eq!(f.values, vec![t("信義國小"), Value::Integer(450), t("臺北市信義區松仁路158號"), t("indoor"), t("flood,earthquake,landslide")]);
        assert!(notes.is_empty(), "{notes:?}");
        let e = build(LayerKind::Shelters, &names, vec![t("x"), Value::Integer(-5), Value::Null, Value::Null, Value::Null]).unwrap_err();
        assert_eq!(e, "shelter capacity -5 is impossible (allowed 0..100000 people)");
    }

    #[test]
    fn pipe_depths_are_checked() {
        let e = build(LayerKind::Pipelines, &["埋深"], vec![Value::Real(-3.0)]).unwrap_err();
        assert!(e.contains("depth -3 m"), "{e}");
        let e = build(LayerKind::Pipelines, &["埋深"], vec![Value::Real(250.0)]).unwrap_err();
        assert!(e.contains("250"), "{e}");
    }
}
