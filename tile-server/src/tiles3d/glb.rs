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
        while self.data.len() % 8 != 0 {
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
    while bin.data.len() % 8 != 0 {
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
    while json_bytes.len() % 4 != 0 {
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
