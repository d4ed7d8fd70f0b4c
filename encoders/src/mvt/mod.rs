//! Mapbox Vector Tiles (spec 2.1): layers of features with typed attributes and
//! tile-space geometry.

pub mod geometry;
pub mod proto;

use formosa_store::Value;
use geometry::{commands, TileGeometry};
use proto::{bytes_field, key, packed_field, varint, varint_field, FIXED64, LEN};
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;

/// The tile extent every Formosa tile uses (the spec's default).
pub const EXTENT: u32 = 4096;

/// One feature of a layer, in tile space.
pub struct TileFeature<'a> {
    pub id: u64,
    pub geometry: TileGeometry,
    pub properties: &'a [(Cow<'static, str>, Value)],
}

/// Builds one MVT layer message (Tile.layers, field 3).
pub struct LayerBuilder {
    name: String,
    features: Vec<u8>,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    values: Vec<Vec<u8>>,
    value_index: HashMap<Vec<u8>, u32>,
    /// Reused to encode a value before looking it up (most values repeat).
    scratch: Vec<u8>,
    count: usize,
}

impl LayerBuilder {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            features: Vec::new(),
            keys: Vec::new(),
            key_index: HashMap::default(),
            values: Vec::new(),
            value_index: HashMap::default(),
            scratch: Vec::with_capacity(64),
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn key_id(&mut self, k: &str) -> u32 {
        if let Some(i) = self.key_index.get(k) {
            return *i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(k.to_string());
        self.key_index.insert(k.to_string(), i);
        i
    }

    /// Encodes a value message (Tile.Value) and returns its index, shared by equal values.
    fn value_id(&mut self, v: &Value) -> Option<u32> {
        let msg = &mut self.scratch;
        msg.clear();
        match v {
            Value::Null => return None,
            Value::Text(s) => bytes_field(msg, 1, s.as_bytes()),
            Value::Real(r) => {
                key(msg, 3, FIXED64);
                msg.extend_from_slice(&r.to_le_bytes());
            }
            // sint_value (zigzag) for negatives, uint_value otherwise: the smallest encoding.
            Value::Integer(i) if *i < 0 => varint_field(msg, 6, proto::zigzag(*i)),
            Value::Integer(i) => varint_field(msg, 5, *i as u64),
        }
        if let Some(i) = self.value_index.get(msg.as_slice()) {
            return Some(*i);
        }
        let i = self.values.len() as u32;
        self.value_index.insert(msg.clone(), i);
        self.values.push(msg.clone());
        Some(i)
    }

    pub fn add(&mut self, f: TileFeature) {
        let mut tags = Vec::with_capacity(f.properties.len() * 2);
        for (k, v) in f.properties {
            if let Some(vi) = self.value_id(v) {
                let ki = self.key_id(k);
                tags.push(ki);
                tags.push(vi);
            }
        }
        let mut msg = Vec::with_capacity(64);
        varint_field(&mut msg, 1, f.id);
        packed_field(&mut msg, 2, &tags);
        varint_field(&mut msg, 3, f.geometry.mvt_type() as u64);
        packed_field(&mut msg, 4, &commands(&f.geometry));
        bytes_field(&mut self.features, 2, &msg);
        self.count += 1;
    }

    /// Appends the finished layer to a tile buffer.
    pub fn finish_into(self, tile: &mut Vec<u8>) {
        let mut layer = Vec::with_capacity(self.features.len() + 256);
        varint_field(&mut layer, 15, 2); // version
        bytes_field(&mut layer, 1, self.name.as_bytes());
        layer.extend_from_slice(&self.features);
        for k in &self.keys {
            bytes_field(&mut layer, 3, k.as_bytes());
        }
        for v in &self.values {
            bytes_field(&mut layer, 4, v);
        }
        varint_field(&mut layer, 5, EXTENT as u64);
        key(tile, 3, LEN);
        varint(tile, layer.len() as u64);
        tile.extend_from_slice(&layer);
    }
}
