//! A bounded, seeded fuzzer for the importers' attribute handling, reproducible from its
//! seed (fuzz/fuzz_targets/import_attributes.rs is its coverage-guided sibling): random source field names (Chinese,
//! empty, duplicated, odd characters), random `--map` overrides and random values (huge,
//! NaN, negative, blank, control characters, long text) through the field mapping and
//! each kind's feature rules. Nothing may panic; what is accepted must be well typed.
//!
//!   FORMOSA_FUZZ_ROUNDS=200000 FORMOSA_FUZZ_SEED=7 cargo test -p formosa-importers --test fuzz_attributes

use formosa_importers::attributes::FieldMap;
use formosa_importers::kinds::{build_feature, utility_type, KindSettings};
use formosa_store::{Geometry, LayerKind, Value};

#[path = "support/well_typed.rs"]
mod well_typed;
use well_typed::assert_well_typed;

/// Reproducible from the seed alone: the fixture generator's SplitMix64.
use formosa_fixtures::rng::Rng;

const NAMES: &[&str] = &[
    "地號",
    "段名",
    "LANDNO",
    "land_no",
    "面積",
    "AREA",
    "管線種類",
    "TYPE",
    "管徑",
    "埋深",
    "DEPTH",
    "埋設年",
    "狀態",
    "高度",
    "樓層",
    "FLOORS",
    "用途",
    "名稱",
    "NAME",
    "class",
    "嚴重程度",
    "severity",
    "時間",
    "",
    " ",
    "_",
    "-",
    "地 號",
    "LAND-NO",
    "x",
    "Shape_Area",
    "OBJECTID",
    "\u{0}",
    "é",
    "🌀",
    "ＡＲＥＡ",
    "depth_m",
    "height_m",
    "floors",
    "type",
];
const OVERRIDES: &[&str] =
    &["parcel_no=地號", "parcel_no=", "=地號", "=", "parcel_no", "height_m=高度", "nosuch=x", "depth_m=DEPTH", "utility=TYPE", "floors=nosuchfield", "area_m2=AREA=X", "名稱=name"];
const TEXTS: &[&str] = &["", " ", "  住宅區 ", "water", "自來水", "瓦斯", "電力", "電信", "污水", "GAS", "\u{0}\u{7}", "1e309", "NaN", "-5", "12.5", "Ⅻ", "ｗａｔｅｒ", "損壞"];

fn value(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => Value::Null,
        1 => Value::Integer(rng.next_u64() as i64),
        2 => Value::Integer(rng.below(200) as i64 - 20),
        3 => Value::Real(f64::from_bits(rng.next_u64())),
        4 => Value::Real([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e308, -1.0, 0.0, 3.3][rng.below(8)]),
        5 => Value::Real(rng.below(1000) as f64 / 7.0),
        6 => Value::Text("字".repeat(rng.below(3000))),
        _ => Value::Text(rng.pick(TEXTS).to_string()),
    }
}

fn geometry(kind: LayerKind) -> Geometry {
    let ring = vec![[121.5, 25.0, 0.0], [121.501, 25.0, 0.0], [121.501, 25.001, 0.0], [121.5, 25.0, 0.0]];
    match kind {
        LayerKind::Pipelines => Geometry::MultiLineString(vec![vec![[121.5, 25.0, -1.2], [121.501, 25.0, -1.3]]]),
        LayerKind::Incidents => Geometry::Point([121.5, 25.0, 0.0]),
        _ => Geometry::MultiPolygon(vec![vec![ring]]),
    }
}

#[test]
fn random_attributes_never_panic_and_accepted_features_are_well_typed() {
    let seed: u64 = std::env::var("FORMOSA_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xA77_12B5);
    let rounds: usize = std::env::var("FORMOSA_FUZZ_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let mut rng = Rng::new(seed);
    let (mut accepted, mut refused_map, mut skipped) = (0, 0, 0);
    for round in 0..rounds {
        let kind = LayerKind::ALL[rng.below(LayerKind::ALL.len())];
        let fields: Vec<String> = (0..rng.below(8)).map(|_| rng.pick(NAMES).to_string()).collect();
        let overrides: Vec<String> = (0..rng.below(3)).map(|_| rng.pick(OVERRIDES).to_string()).collect();
        let map = match FieldMap::resolve(kind, &fields, &overrides) {
            Ok(m) => m,
            Err(e) => {
                assert!(!e.to_string().is_empty(), "round {round}: a refusal says why");
                refused_map += 1;
                continue;
            }
        };
        assert_eq!(map.columns.len(), kind.columns().len(), "round {round}");
        assert!(map.columns.iter().flatten().chain(&map.unmapped).all(|i| *i < fields.len()), "round {round}: indexes within the source fields");
        let _ = map.describe(kind, &fields);
        let values: Vec<Value> = fields.iter().map(|_| value(&mut rng)).collect();
        let settings = KindSettings { storey_height_m: [3.3, 0.5, 4.0][rng.below(3)] };
        let mut area = |_: &Geometry| 123.45;
        match build_feature(kind, &map, &fields, &values, geometry(kind), &settings, &mut area) {
            Ok((f, _notes)) => {
                accepted += 1;
                assert_well_typed(kind, &f.values, &format!("round {round}"));
            }
            Err(reason) => {
                assert!(!reason.is_empty(), "round {round}: a skip says why");
                skipped += 1;
            }
        }
    }
    for _ in 0..rounds {
        let s: String = (0..rng.below(6)).map(|_| rng.pick(TEXTS)).collect();
        assert!(["water", "gas", "power", "telecom", "sewer", "other"].contains(&utility_type(&s)), "{s:?}");
    }
    println!("{rounds} rounds (seed {seed}): {accepted} accepted, {skipped} skipped with a reason, {refused_map} mappings refused");
    assert!(accepted > rounds / 10 && skipped > 0 && refused_map > 0, "the fuzzer reaches every outcome");
}
