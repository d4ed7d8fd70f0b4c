//! The correctness half of the codec decisions (issue 12, item 8; timings in
//! benches/codecs.rs): each crate-based alternative produces the same output as Formosa's
//! code on the bench's inputs (so the timings compare like with like), and where a crate
//! does not serve, the test shows how.

#[path = "../benches/codecs_alt/mod.rs"]
#[allow(dead_code)]
mod alt;

use formosa_store::gpkg::geometry_blob;
use formosa_store::{Geometry, LayerKind};
use serde_json::{json, Value as Json};

// 1. GeoJSON ------------------------------------------------------------------------------

#[test]
fn geojson_crate_pipelines_give_the_same_features_and_documents() {
    let body = alt::incident_body();
    assert_eq!(alt::own_parse_feature(&body, LayerKind::Incidents).unwrap(), alt::crate_parse_feature(&body, LayerKind::Incidents).unwrap());
    let f = alt::cadastral_feature();
    let ours: Json = serde_json::from_slice(&alt::tree_write_feature(&f, false)).unwrap();
    let theirs: Json = serde_json::from_slice(&alt::crate_write_feature(&f, false)).unwrap();
    assert_eq!(ours, theirs);
}

/// The geojson crate accepts, as valid GeoJSON objects, features the feature API must
/// reject (RFC 7946 §3.1.6 closed rings, CRS84 ranges, minimum positions), and where it
/// does reject, its message says neither where nor, for a position, what the rule is:
/// Formosa's checks would all have to stay on top of it.
#[test]
fn geojson_crate_leaves_the_api_checks_and_their_messages_to_us() {
    let feature = |geometry: Json, properties: Json| serde_json::to_vec(&json!({ "type": "Feature", "geometry": geometry, "properties": properties })).unwrap();
    let crate_raw = |body: &[u8]| serde_json::from_slice::<geojson::Feature>(body).map(|_| ()).map_err(|e| e.to_string());
    let ours = |body: &[u8]| alt::own_parse_feature(body, LayerKind::Incidents).map(|_| ()).unwrap_err();

    // Accepted by the crate, rejected by the API.
    let unclosed = feature(json!({ "type": "Polygon", "coordinates": [[[121.0, 25.0], [121.1, 25.0], [121.1, 25.1], [121.0, 25.1]]] }), json!({}));
    let out_of_range = feature(json!({ "type": "Point", "coordinates": [250.0, 25.0] }), json!({}));
    let one_point_line = feature(json!({ "type": "LineString", "coordinates": [[121.0, 25.0]] }), json!({}));
    let four_numbers = feature(json!({ "type": "Point", "coordinates": [121.0, 25.0, 3.0, 9.0] }), json!({}));
    let one_number = feature(json!({ "type": "Polygon", "coordinates": [[[121.0, 25.0], [121.1, 25.0], [121.1], [121.0, 25.0]]] }), json!({}));
    for (body, ours_says) in [
        (&unclosed, "geometry.coordinates[0]: a linear ring must end where it starts"),
        (&out_of_range, "geometry.coordinates: (250, 25) is not a WGS84 longitude/latitude"),
        (&one_point_line, "geometry.coordinates: needs at least 2 positions, has 1"),
        (&four_numbers, "geometry.coordinates: a position has 2 or 3 numbers, this one has 4"),
        (&one_number, "geometry.coordinates[0][2]: a position has 2 or 3 numbers, this one has 1"),
    ] {
        assert_eq!(crate_raw(body), Ok(()), "the geojson crate accepts {}", String::from_utf8_lossy(body));
        let e = ours(body);
        assert!(e.contains(ours_says), "{e}");
    }

    // Rejected by both: ours names the rule and the place, the crate gives serde's
    // message with a line and column.
    let circle = feature(json!({ "type": "Circle", "coordinates": [121.0, 25.0] }), json!({}));
    let not_a_number = feature(json!({ "type": "Point", "coordinates": [121.0, "25"] }), json!({}));
    let no_coordinates = feature(json!({ "type": "Polygon" }), json!({}));
    let bad_properties = feature(json!({ "type": "Point", "coordinates": [121.0, 25.0] }), json!("flood"));
    for (body, ours_says) in [
        (&circle, "geometry type Circle is not supported (Point, LineString, Polygon and their Multi forms are)"),
        (&not_a_number, "geometry.coordinates: coordinates must be finite numbers"),
        (&no_coordinates, "geometry: a Polygon needs \"coordinates\""),
        (&bad_properties, "\"properties\" must be an object"),
    ] {
        let theirs = crate_raw(body).unwrap_err();
        let e = ours(body);
        println!("formosa: {e:?}\n  geojson crate: {theirs:?}");
        assert!(e.contains(ours_says), "{e}");
        assert!(!theirs.contains("geometry.coordinates"), "{theirs}");
    }
}

// 2. GeoPackage blobs -------------------------------------------------------------------

#[test]
fn geozero_decodes_the_bench_parcels_to_the_same_store_geometry() {
    for g in alt::parcels(1000) {
        let blob = geometry_blob::encode(&g, 4326, false);
        assert_eq!(geometry_blob::decode(&blob).unwrap(), alt::geozero_decode(&blob).unwrap());
        assert_eq!(geometry_blob::decode(&blob).ok(), alt::prealloc::decode(&blob));
    }
    let line = Geometry::MultiLineString(vec![vec![[121.5, 25.0, -1.2], [121.6, 25.1, -1.5]]]);
    let blob = geometry_blob::encode(&line, 4326, true);
    assert_eq!(geometry_blob::decode(&blob).unwrap(), alt::geozero_decode(&blob).unwrap());
    assert_eq!(geometry_blob::decode(&blob).ok(), alt::prealloc::decode(&blob));
    for cut in 0..blob.len() {
        assert!(alt::prealloc::decode(&blob[..cut]).is_none(), "cut at {cut}");
    }
}

/// A corrupt count (a ring claiming u32::MAX points in a 60-byte blob): Formosa's decoder
/// checks it against the bytes left before allocating; geozero hands it unchecked to the
/// processor's `linestring_begin(size)`, before reading a coordinate, so every processor
/// must bound it itself (geozero's own geo-types writer does `Vec::with_capacity(size)`
/// with it: a 68 GB request for this blob).
#[test]
fn geozero_passes_corrupt_counts_through_unchecked() {
    #[derive(Default)]
    struct Sizes(Vec<usize>);
    impl geozero::GeomProcessor for Sizes {
        fn linestring_begin(&mut self, _tagged: bool, size: usize, _idx: usize) -> geozero::error::Result<()> {
            self.0.push(size);
            Ok(())
        }
    }
    let mut blob = geometry_blob::encode(&Geometry::MultiPolygon(vec![vec![alt::parcel_ring(&mut alt::Lcg(1), 121.5, 25.0, 4)]]), 4326, false);
    let point_count_at = 8 + 32 + 1 + 4 + 4 + 1 + 4 + 4;
    blob[point_count_at..point_count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(geometry_blob::decode(&blob), Err(geometry_blob::BlobError::Truncated));
    let mut sizes = Sizes::default();
    let r = geozero::GeozeroGeometry::process_geom(&geozero::wkb::GpkgWkb(&blob), &mut sizes);
    assert!(r.is_err());
    assert_eq!(sizes.0, [u32::MAX as usize]);
}

/// GDAL's "old OGC" WKB flags 2.5D with the high bit (0x80000002 for LineString 25D);
/// `geometry_blob::decode_wkb` (the importers' path) reads it, geozero's WKB reader does
/// not (it takes the type as `code % 1000`). Not a GeoPackage-blob matter (blobs are ISO),
/// but a reason to keep `decode_wkb` whichever decoder the store uses.
#[test]
fn geozero_rejects_ewkb_flagged_wkb_that_the_importers_read() {
    let mut wkb = vec![1u8];
    wkb.extend_from_slice(&0x8000_0002u32.to_le_bytes());
    wkb.extend_from_slice(&2u32.to_le_bytes());
    for v in [121.5, 25.0, -1.2, 121.6, 25.1, -1.5f64] {
        wkb.extend_from_slice(&v.to_le_bytes());
    }
    let line = Geometry::MultiLineString(vec![vec![[121.5, 25.0, -1.2], [121.6, 25.1, -1.5]]]);
    assert_eq!(geometry_blob::decode_wkb(&wkb), Ok((line, true)));
    let mut p = alt::ToStoreGeometry::default();
    assert!(geozero::GeozeroGeometry::process_geom(&geozero::wkb::Wkb(&wkb), &mut p).is_err());
}

// 3. MVT --------------------------------------------------------------------------------

#[test]
fn prost_and_layer_builder_tiles_decode_to_the_same_message() {
    use prost::Message;
    let input = alt::mvt_inputs(2000);
    let ours = alt::vector_tile::Tile::decode(alt::own_layer("cadastral", &input).as_slice()).unwrap();
    let theirs = alt::vector_tile::Tile::decode(alt::prost_layer("cadastral", &input).as_slice()).unwrap();
    assert_eq!(ours.layers[0].features.len(), 2000);
    assert_eq!(ours.layers[0].keys.len(), 6);
    assert_eq!(ours, theirs);
}

// 4. GLB --------------------------------------------------------------------------------

/// Removes the members either side writes with their spec default, and reads colours as
/// float32, so the two documents compare by meaning.
fn strip_defaults(doc: &mut Json) {
    for m in doc["materials"].as_array_mut().unwrap() {
        // Formosa writes the f32 colour widened to f64 (0.6899999976158142), gltf-json as
        // f32 (0.69): the same float32 to a reader.
        let c = &mut m["pbrMetallicRoughness"]["baseColorFactor"];
        *c = json!(c.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect::<Vec<_>>());
        let m = m.as_object_mut().unwrap();
        for (k, default) in [("alphaMode", json!("OPAQUE")), ("doubleSided", json!(false)), ("emissiveFactor", json!([0.0, 0.0, 0.0]))] {
            if m.get(k) == Some(&default) {
                m.remove(k);
            }
        }
    }
    for p in doc["meshes"][0]["primitives"].as_array_mut().unwrap() {
        if p["mode"] == json!(4) {
            p.as_object_mut().unwrap().remove("mode");
        }
    }
    for a in doc["accessors"].as_array_mut().unwrap() {
        if a["normalized"] == json!(false) {
            a.as_object_mut().unwrap().remove("normalized");
        }
    }
}

/// gltf-json builds the same GLB, but the two extensions the 3D Tiles content needs have no
/// types there: they are untyped serde_json maps (`others`) both ways, and the feature-ID
/// attribute is only an "extras" semantic. The crate checks nothing of what we write in
/// them, so it brings no correctness over serde_json's `json!`.
#[test]
fn gltf_json_carries_our_extensions_only_as_untyped_json() {
    let (parts, table) = alt::building_tile(400);
    let ours = formosa_encoders::tiles3d::glb::encode(&parts, &table);
    let theirs = alt::gltf_json_glb(&parts, &table);
    let (mut ours_json, ours_bin) = alt::glb_chunks(&ours);
    let (mut theirs_json, theirs_bin) = alt::glb_chunks(&theirs);
    assert_eq!(ours_bin, theirs_bin);
    strip_defaults(&mut ours_json);
    strip_defaults(&mut theirs_json);
    assert_eq!(ours_json, theirs_json);

    // Read back with gltf-json: the extensions land in the untyped maps.
    let root: gltf_json::Root = serde_json::from_value(alt::glb_chunks(&ours).0).unwrap();
    let meta = &root.extensions.as_ref().unwrap().others["EXT_structural_metadata"];
    assert!(meta.is_object(), "EXT_structural_metadata is a serde_json::Value");
    let prim = &root.meshes[0].primitives[0];
    assert!(prim.extensions.as_ref().unwrap().others["EXT_mesh_features"].is_object());
    assert!(prim.attributes.keys().any(|s| matches!(s, gltf_json::validation::Checked::Valid(gltf_json::mesh::Semantic::Extras(n)) if n == "FEATURE_ID_0")));

    // And gltf-json's validation passes a document whose extension is nonsense.
    let mut broken = root.clone();
    broken.extensions.as_mut().unwrap().others.insert("EXT_structural_metadata".into(), json!({ "propertyTables": "not an array" }));
    let mut errors = Vec::new();
    gltf_json::validation::Validate::validate(&broken, &broken, gltf_json::Path::new, &mut |path, e| errors.push(format!("{} {e:?}", path())));
    assert!(errors.is_empty(), "{errors:?}");
}

// 5. TM2 --------------------------------------------------------------------------------

/// Formosa's analytic TM2 agrees with GDAL/PROJ 9 to well under a millimetre over the
/// bench's 10,000 points (all of TM2's 121°E zone over Taiwan's main island).
#[test]
fn analytic_tm2_agrees_with_gdal_proj_to_a_millimetre() {
    let (lon, lat) = alt::taiwan_points(10_000);
    let (ox, oy) = alt::own_project(&lon, &lat);
    let (gx, gy) = alt::gdal_project(&alt::gdal_to_tm2(), &lon, &lat);
    let max = ox.iter().zip(&oy).zip(gx.iter().zip(&gy)).map(|((a, b), (c, d))| (a - c).hypot(b - d)).fold(0.0f64, f64::max);
    println!("max |formosa - GDAL/PROJ| = {max:.6} m");
    assert!(max < 0.001, "{max} m");
}
