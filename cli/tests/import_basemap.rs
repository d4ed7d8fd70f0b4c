//! The base map's own kinds — roads, railways, water, landmarks, shelters — imported from
//! the bundled fixtures in the agencies' formats (cp950 shapefiles in EPSG:3826, GeoJSON)
//! and checked with GDAL's own tools; and their bad input: unknown classes kept as
//! `other` with a note, impossible shelters skipped with a reason.

mod common;
use common::*;

fn import(store: &std::path::Path, kind: &str, file: &str, report: &std::path::Path) -> serde_json::Value {
    formosa_ok(store, &["import", kind, file, "--report", &report.display().to_string()]);
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

#[test]
fn base_map_kinds_arrive_typed_with_their_chinese_names_and_classes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let report = dir.path().join("report.json");
    let s = store.display().to_string();
    for (kind, file) in [
        ("roads", "roads/roads.shp"),
        ("railways", "railways/railways.shp"),
        ("water", "water/water.geojson"),
        ("pois", "landmarks/pois.geojson"),
        ("shelters", "shelters/shelters.geojson"),
    ] {
        let r = import(&store, kind, &fixture(file), &report);
        let source = ogr_count(&fixture(file), None);
        assert_eq!((r["read"].as_u64(), r["imported"].as_u64()), (Some(source), Some(source)), "{kind}: {r}");
        assert_eq!(ogr_count(&s, Some(kind)), source, "{kind}");
    }

    // Roads: names decoded from the cp950 DBF, classes by the agencies' words, flags as 0/1.
    let classes = ogr_sql(&s, "SELECT DISTINCT class FROM roads ORDER BY class");
    assert_eq!(classes, vec!["primary", "secondary", "service", "street", "trunk"]);
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM roads WHERE name = '信義路五段' AND class = 'secondary'"), vec!["15"]);
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM roads WHERE name LIKE '%巷' AND class <> 'service'"), vec!["0"]);
    let bridges = ogr_sql(&s, "SELECT name FROM roads WHERE bridge = 1 AND class <> 'trunk'");
    assert!(!bridges.is_empty() && bridges.iter().all(|n| n.ends_with('橋')), "{bridges:?}");
    assert_eq!(ogr_sql(&s, "SELECT level, bridge FROM roads WHERE class = 'trunk'"), vec!["2", "1"]);
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM roads WHERE oneway NOT IN (0, 1) OR tunnel <> 0 OR width_m <= 0"), vec!["0"]);
    let total_source_width: f64 = ogr_sql(&fixture("roads/roads.shp"), "SELECT sum(\"路寬\") FROM roads")[0].parse().unwrap();
    let total_width: f64 = ogr_sql(&s, "SELECT sum(width_m) FROM roads")[0].parse().unwrap();
    assert!((total_source_width - total_width).abs() < 1e-6, "{total_source_width} vs {total_width}");

    assert_eq!(ogr_sql(&s, "SELECT name, class, tunnel, bridge FROM railways"), vec!["淡水信義線", "metro", "1", "0"]);
    assert_eq!(ogr_sql(&s, "SELECT name, class FROM water ORDER BY name"), vec!["四分溪", "river", "松德埤", "pond"]);
    let water = tool("ogrinfo", &["-ro", "-q", &s, "water"]);
    assert!(water.contains("MULTILINESTRING") && water.contains("MULTIPOLYGON"), "one layer holds the creek and the pond");

    // Landmarks: every class a disaster map asks for, points in a POINT layer.
    let poi_classes = ogr_sql(&s, "SELECT DISTINCT class FROM pois ORDER BY class");
    for class in ["fire_station", "government", "hospital", "park", "police", "school", "station", "temple"] {
        assert!(poi_classes.iter().any(|c| c == class), "no {class} in {poi_classes:?}");
    }
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM pois WHERE class = 'other'"), vec!["0"]);
    for layer in ["pois", "shelters"] {
        let declared = ogr_sql(&s, &format!("SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = '{layer}'"));
        assert_eq!(declared, vec!["POINT"], "{layer}");
    }

    // Shelters: the national open data's fields, capacities as numbers, hazards normalised.
    assert_eq!(
        ogr_sql(&s, "SELECT capacity, address, type, disasters FROM shelters WHERE name = '信義國小'"),
        [
            ogr_sql(&fixture("shelters/shelters.geojson"), "SELECT \"預計收容人數\", \"避難收容處所地址\" FROM shelters WHERE \"避難收容處所名稱\" = '信義國小'"),
            vec!["indoor".to_string(), "flood,earthquake".to_string()]
        ]
        .concat()
    );
    assert_eq!(ogr_sql(&s, "SELECT count(*) FROM shelters WHERE capacity <= 0 OR type NOT IN ('indoor', 'outdoor') OR disasters IS NULL"), vec!["0"]);

    // Positions: a shelter lies where the source puts it (GDAL reads both).
    let at = |path: &str, layer: &str, field: &str| {
        let out = tool("ogrinfo", &["-ro", "-q", path, layer, "-where", &format!("{field} = '信義國小'")]);
        let line = out.lines().find(|l| l.trim_start().starts_with("POINT")).unwrap_or_else(|| panic!("no point in {out}")).to_string();
        let nums: Vec<f64> = line.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter(|t| !t.is_empty()).map(|t| t.parse().unwrap()).collect();
        (nums[0], nums[1])
    };
    let (a, b) = (at(&s, "shelters", "name"), at(&fixture("shelters/shelters.geojson"), "shelters", "\"避難收容處所名稱\""));
    assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9, "{a:?} vs {b:?}");
}

#[test]
fn unknown_classes_are_kept_as_other_and_impossible_shelters_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let report = dir.path().join("report.json");
    let s = store.display().to_string();
    let write = |name: &str, features: serde_json::Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::json!({ "type": "FeatureCollection", "features": features }).to_string()).unwrap();
        path.display().to_string()
    };
    let line = serde_json::json!({ "type": "LineString", "coordinates": [[121.56, 25.03], [121.57, 25.03]] });
    let roads = write(
        "roads.geojson",
        serde_json::json!([
            { "type": "Feature", "properties": { "路名": "天梯路", "道路等級": "天梯", "路寬": 12, "單行道": "也許" }, "geometry": line },
            { "type": "Feature", "properties": { "路名": "松仁路", "道路等級": "市區道路", "路寬": -4 }, "geometry": line },
        ]),
    );
    let r = import(&store, "roads", &roads, &report);
    assert_eq!(r["imported"], 2, "{r}");
    // The report counts notes by what comes before their ':' (the class, the value).
    assert_eq!(r["notes"]["road class '天梯' is not known"], 1, "{r}");
    assert_eq!(r["notes"]["oneway Text(\"也許\") is not yes or no"], 1, "{r}");
    assert!(r["notes"].as_object().unwrap().keys().any(|k| k.starts_with("road width -4 m is impossible")), "{r}");
    assert_eq!(ogr_sql(&s, "SELECT class, oneway, width_m FROM roads WHERE name = '天梯路'"), vec!["other", "0", "12"]);
    assert_eq!(ogr_sql(&s, "SELECT width_m IS NULL FROM roads WHERE name = '松仁路'"), vec!["1"]);

    let point = serde_json::json!({ "type": "Point", "coordinates": [121.565, 25.033] });
    let shelters = write(
        "shelters.geojson",
        serde_json::json!([
            { "type": "Feature", "properties": { "避難收容處所名稱": "好學校", "預計收容人數": 300, "室內室外": "室內", "適用災害類別": "水災、隕石" }, "geometry": point },
            { "type": "Feature", "properties": { "避難收容處所名稱": "負數", "預計收容人數": -5 }, "geometry": point },
            { "type": "Feature", "properties": { "避難收容處所名稱": "無處" , "預計收容人數": 10 }, "geometry": null },
            { "type": "Feature", "properties": { "避難收容處所名稱": "兩處", "預計收容人數": 10 }, "geometry": { "type": "MultiPoint", "coordinates": [[121.5, 25.0], [121.6, 25.1]] } },
        ]),
    );
    let r = import(&store, "shelters", &shelters, &report);
    assert_eq!((r["read"].as_u64(), r["imported"].as_u64()), (Some(4), Some(1)), "{r}");
    let reasons: Vec<String> = r["skipped"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap().to_string()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().any(|r| r == "shelter capacity -5 is impossible (allowed 0..100000 people)"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("geometry")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r == "expected one point, found 2"), "{reasons:?}");
    assert_eq!(r["notes"]["disaster types not known, left out"], 1, "{r}");
    assert_eq!(ogr_sql(&s, "SELECT name, capacity, type, disasters FROM shelters"), vec!["好學校", "300", "indoor", "flood"]);
}
