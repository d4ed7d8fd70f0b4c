//! Mapbox Vector Tiles (spec 2.1): layers of features with typed attributes and
//! tile-space geometry.

pub mod geometry;
pub mod proto;

use formosa_store::Value;
use geometry::{commands_into, TileGeometry};
use hashbrown::HashTable;
use proto::{bytes_field, key, packed_field, varint, varint_field, FIXED64, LEN};
use rustc_hash::{FxBuildHasher, FxHashMap as HashMap};
use std::borrow::Cow;
use std::hash::BuildHasher;

/// The tile extent every Formosa tile uses (the spec's default).
pub const EXTENT: u32 = 4096;

/// One feature of a layer, in tile space.
pub struct TileFeature<'a> {
    pub id: u64,
    pub geometry: TileGeometry,
    pub properties: &'a [(Cow<'static, str>, Value)],
}

/// Builds one MVT layer message (Tile.layers, field 3).
///
/// Nothing is allocated per feature once the layer is under way: values are interned as
/// their encoded bytes in one buffer (a hash table holds their indices), and the tags,
/// feature message and geometry commands reuse buffers. Interning by cloned `Vec<u8>`
/// keys and fresh per-feature vectors was a sixth of an uncached z15 tile's CPU.
pub struct LayerBuilder {
    name: String,
    features: Vec<u8>,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    /// Every distinct value's encoded Tile.Value message, one after another, and where
    /// each ends.
    values: Vec<u8>,
    value_ends: Vec<usize>,
    /// Indices into `value_ends`, by the hash of the value's bytes.
    value_index: HashTable<u32>,
    /// Reused to encode a value before looking it up (most values repeat).
    scratch: Vec<u8>,
    tags: Vec<u32>,
    message: Vec<u8>,
    commands: Vec<u32>,
    count: usize,
}

fn hash_bytes(b: &[u8]) -> u64 {
    FxBuildHasher.hash_one(b)
}

impl LayerBuilder {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            features: Vec::new(),
            keys: Vec::new(),
            key_index: HashMap::default(),
            values: Vec::new(),
            value_ends: Vec::new(),
            value_index: HashTable::new(),
            scratch: Vec::with_capacity(64),
            tags: Vec::new(),
            message: Vec::with_capacity(64),
            commands: Vec::new(),
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

    /// Value `i`'s encoded message.
    fn value_bytes<'a>(values: &'a [u8], ends: &[usize], i: u32) -> &'a [u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { ends[i - 1] };
        &values[start..ends[i]]
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
        let (values, ends) = (&self.values, &self.value_ends);
        let hash = hash_bytes(msg);
        if let Some(i) = self.value_index.find(hash, |&i| Self::value_bytes(values, ends, i) == msg.as_slice()) {
            return Some(*i);
        }
        let i = self.value_ends.len() as u32;
        self.values.extend_from_slice(msg);
        self.value_ends.push(self.values.len());
        let (values, ends) = (&self.values, &self.value_ends);
        self.value_index.insert_unique(hash, i, |&j| hash_bytes(Self::value_bytes(values, ends, j)));
        Some(i)
    }

    pub fn add(&mut self, f: TileFeature) {
        let mut tags = std::mem::take(&mut self.tags);
        tags.clear();
        for (k, v) in f.properties {
            if let Some(vi) = self.value_id(v) {
                let ki = self.key_id(k);
                tags.push(ki);
                tags.push(vi);
            }
        }
        self.commands.clear();
        commands_into(&f.geometry, &mut self.commands);
        let msg = &mut self.message;
        msg.clear();
        varint_field(msg, 1, f.id);
        packed_field(msg, 2, &tags);
        varint_field(msg, 3, f.geometry.mvt_type() as u64);
        packed_field(msg, 4, &self.commands);
        bytes_field(&mut self.features, 2, msg);
        self.tags = tags;
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
        for i in 0..self.value_ends.len() as u32 {
            bytes_field(&mut layer, 4, Self::value_bytes(&self.values, &self.value_ends, i));
        }
        varint_field(&mut layer, 5, EXTENT as u64);
        key(tile, 3, LEN);
        varint(tile, layer.len() as u64);
        tile.extend_from_slice(&layer);
    }
}
