//! An independent MVT decoder (vector_tile.proto 2.1, by prost), shared by the tests.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct Tile {
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<Layer>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Layer {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<TileFeature>,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<TileValue>,
    #[prost(uint32, tag = "5")]
    pub extent: u32,
    #[prost(uint32, tag = "15")]
    pub version: u32,
}

#[derive(Clone, PartialEq, Message)]
pub struct TileFeature {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint32, repeated, tag = "2")]
    pub tags: Vec<u32>,
    #[prost(int32, tag = "3")]
    pub r#type: i32,
    #[prost(uint32, repeated, tag = "4")]
    pub geometry: Vec<u32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TileValue {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
}

impl Layer {
    pub fn text(&self, f: &TileFeature, key: &str) -> Option<String> {
        f.tags.chunks(2).find(|kv| self.keys[kv[0] as usize] == key).and_then(|kv| self.values[kv[1] as usize].string_value.clone())
    }
}

/// The position of a one-point feature (a MoveTo of one point), in tile units.
pub fn point_of(f: &TileFeature) -> (i32, i32) {
    assert_eq!((f.r#type, f.geometry.len(), f.geometry[0]), (1, 3, 9), "a single point");
    let unzig = |v: u32| ((v >> 1) as i32) ^ -((v & 1) as i32);
    (unzig(f.geometry[1]), unzig(f.geometry[2]))
}
