//! Terrain encoders over the store's elevation pyramid: quantized-mesh-1.0 for CesiumJS
//! and terrain-RGB PNG for MapLibre, both in ellipsoidal heights (`heights.rs`).

pub mod heights;
pub mod quantized_mesh;
pub mod rgb;
pub mod rtin;
