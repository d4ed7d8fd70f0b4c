//! The importers' attribute handling: source field names (any Unicode, empty,
//! duplicated), `--map column=FIELD` overrides and values of every type through the
//! field mapping and each layer kind's feature rules. Nothing may panic; a refusal says
//! why; what is accepted is well typed (finite reals, trimmed non-empty text, buildings
//! with a height).
#![no_main]

use arbitrary::Arbitrary;
use formosa_importers::attributes::FieldMap;
use formosa_importers::kinds::{build_feature, utility_type, KindSettings};
use formosa_store::{Geometry, LayerKind, Value};

#[path = "../../importers/tests/support/well_typed.rs"]
mod well_typed;
use well_typed::assert_well_typed;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum V {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: u8,
    fields: Vec<String>,
    overrides: Vec<String>,
    values: Vec<V>,
    storey_height_m: f64,
}

fuzz_target!(|input: Input| {
    let kind = LayerKind::ALL[input.kind as usize % LayerKind::ALL.len()];
    let map = match FieldMap::resolve(kind, &input.fields, &input.overrides) {
        Ok(m) => m,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "a refused mapping says why");
            return;
        }
    };
    assert_eq!(map.columns.len(), kind.columns().len());
    assert!(map.columns.iter().flatten().chain(&map.unmapped).all(|i| *i < input.fields.len()));
    let _ = map.describe(kind, &input.fields);
    let values: Vec<Value> = (0..input.fields.len())
        .map(|i| match input.values.get(i) {
            None | Some(V::Null) => Value::Null,
            Some(V::Integer(n)) => Value::Integer(*n),
            Some(V::Real(r)) => Value::Real(*r),
            Some(V::Text(t)) => Value::Text(t.clone()),
        })
        .collect();
    for v in &values {
        if let Value::Text(t) = v {
            let _ = utility_type(t);
        }
    }
    let geometry = match kind {
        LayerKind::Pipelines => Geometry::MultiLineString(vec![vec![[121.5, 25.0, -1.2], [121.501, 25.0, -1.3]]]),
        LayerKind::Incidents => Geometry::Point([121.5, 25.0, 0.0]),
        _ => Geometry::MultiPolygon(vec![vec![vec![[121.5, 25.0, 0.0], [121.501, 25.0, 0.0], [121.501, 25.001, 0.0], [121.5, 25.0, 0.0]]]]),
    };
    // What the command line and formosa.toml let through (`with_storey_height`).
    let Ok(settings) = KindSettings::with_storey_height(input.storey_height_m) else { return };
    let mut area = |_: &Geometry| 123.45;
    match build_feature(kind, &map, &input.fields, &values, geometry, &settings, &mut area) {
        Ok((f, _notes)) => assert_well_typed(kind, &f.values, &format!("{kind} feature")),
        Err(reason) => assert!(!reason.is_empty(), "a skipped feature says why"),
    }
});
