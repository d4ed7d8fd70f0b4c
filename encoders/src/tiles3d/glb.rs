//! A small binary glTF 2.0 writer for 3D Tiles 1.1 content: triangle meshes with normals
//! and a per-vertex feature ID (`EXT_mesh_features`), one material per part, and a
//! property table of the features' attributes (`EXT_structural_metadata`), so CesiumJS
//! can pick each building or pipe and read or style by its attributes.

use serde_json::{json, Value};

/// One primitive: triangles in one material.
#[derive(Default)]
pub struct Part {
    /// Local metres, glTF axes (x east, y up, z south).
    pub positions: Vec<[f32; 3]>,
    /// Unit normals, same axes.
    pub normals: Vec<[f32; 3]>,
    /// Index into the property table of the feature each vertex belongs to.
    pub feature_ids: Vec<f32>,
    pub indices: Vec<u32>,
    /// RGBA, linear.
    pub color: [f32; 4],
}

impl Part {
    pub fn vertex(&mut self, p: [f32; 3], n: [f32; 3], feature: u32) -> u32 {
        self.positions.push(p);
        self.normals.push(n);
        self.feature_ids.push(feature as f32);
        (self.positions.len() - 1) as u32
    }
}

/// A property table column.
pub enum Column {
    Float64(Vec<f64>),
    Int64(Vec<i64>),
    Text(Vec<String>),
}

pub struct PropertyTable {
    pub class: &'static str,
    pub count: usize,
    pub columns: Vec<(&'static str, Column)>,
}

/// Buffer under construction: every view starts on an 8-byte boundary (metadata values
/// need their component size; 8 covers all).
struct Bin {
    data: Vec<u8>,
    views: Vec<Value>,
}

impl Bin {
    fn view(&mut self, bytes: &[u8], target: Option<u32>) -> usize {
        while !self.data.len().is_multiple_of(8) {
            self.data.push(0);
        }
        let mut v = json!({ "buffer": 0, "byteOffset": self.data.len(), "byteLength": bytes.len() });
        if let Some(t) = target {
            v["target"] = json!(t);
        }
        self.data.extend_from_slice(bytes);
        self.views.push(v);
        self.views.len() - 1
    }
}

fn f32_bytes(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(f32::to_le_bytes).collect()
}

const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;
const FLOAT: u32 = 5126;
const UNSIGNED_INT: u32 = 5125;

/// Writes the GLB. Parts without triangles are left out.
pub fn encode(parts: &[Part], table: &PropertyTable) -> Vec<u8> {
    let mut bin = Bin { data: Vec::new(), views: Vec::new() };
    let mut accessors = Vec::new();
    let mut primitives = Vec::new();
    let mut materials = Vec::new();
    for part in parts.iter().filter(|p| !p.indices.is_empty()) {
        let (mut lo, mut hi) = ([f32::MAX; 3], [f32::MIN; 3]);
        for p in &part.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let n = part.positions.len();
        let pos = bin.view(&f32_bytes(part.positions.iter().flatten().copied()), Some(ARRAY_BUFFER));
        accessors.push(json!({ "bufferView": pos, "componentType": FLOAT, "count": n, "type": "VEC3", "min": lo, "max": hi }));
        let nor = bin.view(&f32_bytes(part.normals.iter().flatten().copied()), Some(ARRAY_BUFFER));
        accessors.push(json!({ "bufferView": nor, "componentType": FLOAT, "count": n, "type": "VEC3" }));
        let fid = bin.view(&f32_bytes(part.feature_ids.iter().copied()), Some(ARRAY_BUFFER));
        accessors.push(json!({ "bufferView": fid, "componentType": FLOAT, "count": n, "type": "SCALAR" }));
        let idx_bytes: Vec<u8> = part.indices.iter().flat_map(|i| i.to_le_bytes()).collect();
        let idx = bin.view(&idx_bytes, Some(ELEMENT_ARRAY_BUFFER));
        accessors.push(json!({ "bufferView": idx, "componentType": UNSIGNED_INT, "count": part.indices.len(), "type": "SCALAR" }));
        let a = accessors.len() - 4;
        materials.push(json!({
            "pbrMetallicRoughness": { "baseColorFactor": part.color, "metallicFactor": 0.0, "roughnessFactor": 0.9 },
        }));
        primitives.push(json!({
            "attributes": { "POSITION": a, "NORMAL": a + 1, "_FEATURE_ID_0": a + 2 },
            "indices": a + 3,
            "material": materials.len() - 1,
            "mode": 4,
            "extensions": { "EXT_mesh_features": { "featureIds": [
                { "featureCount": table.count, "attribute": 0, "propertyTable": 0 }
            ] } },
        }));
    }

    // Property table: one view per column (strings: UTF-8 bytes + u32 offsets).
    let mut schema_props = serde_json::Map::new();
    let mut table_props = serde_json::Map::new();
    for (name, column) in &table.columns {
        match column {
            Column::Float64(v) => {
                let view = bin.view(&v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(), None);
                schema_props.insert(name.to_string(), json!({ "type": "SCALAR", "componentType": "FLOAT64" }));
                table_props.insert(name.to_string(), json!({ "values": view }));
            }
            Column::Int64(v) => {
                let view = bin.view(&v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(), None);
                schema_props.insert(name.to_string(), json!({ "type": "SCALAR", "componentType": "INT64" }));
                table_props.insert(name.to_string(), json!({ "values": view }));
            }
            Column::Text(v) => {
                let mut bytes = Vec::new();
                let mut offsets = Vec::with_capacity(v.len() + 1);
                for s in v {
                    offsets.push(bytes.len() as u32);
                    bytes.extend_from_slice(s.as_bytes());
                }
                offsets.push(bytes.len() as u32);
                if bytes.is_empty() {
                    bytes.push(0); // every string empty: glTF views may not be empty
                }
                let values = bin.view(&bytes, None);
                let offsets = bin.view(&offsets.iter().flat_map(|o| o.to_le_bytes()).collect::<Vec<_>>(), None);
                schema_props.insert(name.to_string(), json!({ "type": "STRING" }));
                table_props.insert(name.to_string(), json!({ "values": values, "stringOffsets": offsets, "stringOffsetType": "UINT32" }));
            }
        }
    }
    while !bin.data.len().is_multiple_of(8) {
        bin.data.push(0);
    }

    let gltf = json!({
        "asset": { "version": "2.0", "generator": "Formosa" },
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "extensions": { "EXT_structural_metadata": {
            "schema": { "id": "formosa", "classes": { table.class: { "properties": schema_props } } },
            "propertyTables": [{ "class": table.class, "count": table.count, "properties": table_props }],
        } },
        "scene": 0,
        "scenes": [{ "nodes": [0] }],
        "nodes": [{ "mesh": 0 }],
        "meshes": [{ "primitives": primitives }],
        "materials": materials,
        "accessors": accessors,
        "bufferViews": bin.views,
        "buffers": [{ "byteLength": bin.data.len() }],
    });
    let mut json_bytes = serde_json::to_vec(&gltf).expect("JSON");
    while !json_bytes.len().is_multiple_of(4) {
        json_bytes.push(b' ');
    }
    let total = 12 + 8 + json_bytes.len() + 8 + bin.data.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json_bytes);
    out.extend_from_slice(&(bin.data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut part = Part { color: [1.0, 0.5, 0.2, 1.0], ..Part::default() };
        let n = [0.0, 1.0, 0.0];
        let a = part.vertex([0.0, 0.0, 0.0], n, 0);
        let b = part.vertex([1.0, 0.0, 0.0], n, 1);
        let c = part.vertex([0.0, 0.0, -1.0], n, 2);
        part.indices.extend_from_slice(&[a, b, c]);
        let table = PropertyTable {
            class: "building",
            count: 3,
            columns: vec![
                ("fid", Column::Int64(vec![7, 8, 9])),
                ("use", Column::Text(vec!["住宅".into(), String::new(), "商業".into()])),
                ("height_m", Column::Float64(vec![3.3, 6.6, 9.9])),
            ],
        };
        encode(&[part, Part::default()], &table)
    }

    #[test]
    fn glb_header_chunks_and_alignment_follow_the_spec() {
        let g = sample();
        assert_eq!(&g[0..4], b"glTF");
        assert_eq!(u32::from_le_bytes(g[4..8].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(g[8..12].try_into().unwrap()) as usize, g.len());
        let json_len = u32::from_le_bytes(g[12..16].try_into().unwrap()) as usize;
        assert_eq!(&g[16..20], b"JSON");
        assert_eq!(json_len % 4, 0, "JSON chunk padded to 4 bytes");
        let bin_at = 20 + json_len;
        let bin_len = u32::from_le_bytes(g[bin_at..bin_at + 4].try_into().unwrap()) as usize;
        assert_eq!(&g[bin_at + 4..bin_at + 8], b"BIN\0");
        assert_eq!(bin_at + 8 + bin_len, g.len());
        let json: Value = serde_json::from_slice(&g[20..20 + json_len]).unwrap();
        assert_eq!(json["buffers"][0]["byteLength"], bin_len);
        for v in json["bufferViews"].as_array().unwrap() {
            assert_eq!(v["byteOffset"].as_u64().unwrap() % 8, 0, "views start on 8-byte boundaries");
            assert!(v["byteOffset"].as_u64().unwrap() + v["byteLength"].as_u64().unwrap() <= bin_len as u64);
        }
        assert_eq!(json["meshes"][0]["primitives"].as_array().unwrap().len(), 1, "the empty part is left out");
    }

    #[test]
    fn property_table_offsets_and_feature_ids_index_the_values() {
        let g = sample();
        let json_len = u32::from_le_bytes(g[12..16].try_into().unwrap()) as usize;
        let json: Value = serde_json::from_slice(&g[20..20 + json_len]).unwrap();
        let bin = &g[20 + json_len + 8..];
        let view = |i: &Value| {
            let v = &json["bufferViews"][i.as_u64().unwrap() as usize];
            let o = v["byteOffset"].as_u64().unwrap() as usize;
            &bin[o..o + v["byteLength"].as_u64().unwrap() as usize]
        };
        let table = &json["extensions"]["EXT_structural_metadata"]["propertyTables"][0];
        assert_eq!(table["count"], 3);
        let uses = &table["properties"]["use"];
        let offsets: Vec<u32> = view(&uses["stringOffsets"]).chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(offsets.len(), 4, "count + 1 string offsets");
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
        let strings = view(&uses["values"]);
        let decoded: Vec<&str> = offsets.windows(2).map(|w| std::str::from_utf8(&strings[w[0] as usize..w[1] as usize]).unwrap()).collect();
        assert_eq!(decoded, ["住宅", "", "商業"]);
        let fids: Vec<i64> = view(&table["properties"]["fid"]["values"]).chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(fids, [7, 8, 9]);
        let prim = &json["meshes"][0]["primitives"][0];
        assert_eq!(prim["extensions"]["EXT_mesh_features"]["featureIds"][0]["featureCount"], 3);
        let acc = &json["accessors"][prim["attributes"]["_FEATURE_ID_0"].as_u64().unwrap() as usize];
        let ids: Vec<f32> = view(&acc["bufferView"]).chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert!(ids.iter().all(|i| *i >= 0.0 && (*i as usize) < 3 && i.fract() == 0.0));
    }
}
