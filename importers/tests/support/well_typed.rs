//! What every feature the importers accept must be, whatever the input: shared by the
//! seeded attribute fuzzer (importers/tests/fuzz_attributes.rs) and its cargo-fuzz
//! sibling (fuzz/fuzz_targets/import_attributes.rs).

use formosa_store::{ColumnType, LayerKind, Value};

/// Panics, naming `context`, unless an accepted feature's column values are well typed:
/// one per column, finite reals, trimmed non-empty text, and buildings with a height
/// above 0 and at most 1,000 m.
pub fn assert_well_typed(kind: LayerKind, values: &[Value], context: &str) {
    assert_eq!(values.len(), kind.columns().len(), "{context}");
    for (v, c) in values.iter().zip(kind.columns()) {
        match (v, c.ty) {
            (Value::Null, _) | (Value::Integer(_), ColumnType::Integer) => {}
            (Value::Real(r), ColumnType::Real) => assert!(r.is_finite(), "{context}: {} = {r}", c.name),
            (Value::Text(t), ColumnType::Text) => assert!(!t.is_empty() && t.trim() == t, "{context}: {} = {t:?}", c.name),
            (v, ty) => panic!("{context}: column {} ({ty:?}) holds {v:?}", c.name),
        }
    }
    if kind == LayerKind::Buildings {
        let h = values[0].as_f64().expect("buildings always get a height");
        assert!(h > 0.0 && h <= 1000.0, "{context}: height {h}");
    }
}
